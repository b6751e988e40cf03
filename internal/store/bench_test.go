package store_test

import (
	"context"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// BenchmarkNew measures loading the AWS configuration, which every `generate` process pays.
func BenchmarkNew(b *testing.B) {
	cfg := store.Config{
		Table: "cfg", Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000",
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"},
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := store.New(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCluster measures the generation read of a 100-namespace cluster.
func BenchmarkReadCluster(b *testing.B) {
	s, calls := newStore(b)
	publish(b, s, config.GlobalLayer, 0, namespace(b, "monitoring", nil))
	publish(b, s, config.EnvLayer("dev"), 0, namespace(b, "dev-tools", nil))
	publish(b, s, config.ClusterLayer("dev-k3s"), 0, hundredNamespaces(b, "dev-k3s", "dev")...)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		req  store.ClusterRequest
	}{
		{"pinned", store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev", Version: &config.ConfigVersion{Global: 1, Env: 1, Cluster: 1}}},
		{"latest", store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev"}},
		{"latest-no-env", store.ClusterRequest{Cluster: "dev-k3s"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			calls.Reset()
			for b.Loop() {
				if _, err := s.ReadCluster(ctx, bc.req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(calls.ReadUnits()/float64(b.N), "RCU/op")
		})
	}
}
