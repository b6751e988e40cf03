package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// hundredNamespaces is a cluster layer of the size the performance budget is measured at:
// 100 namespaces, each with labels, annotations, a quota, limits and a role binding.
func hundredNamespaces(t testing.TB, cluster, env string) []config.Entry {
	entries := []config.Entry{clusterRecord(t, cluster, env)}
	for i := range 100 {
		name := fmt.Sprintf("team-%03d", i)
		entries = append(entries, namespace(t, name, map[string]any{
			"labels":        map[string]any{"team": name, "cost-center": fmt.Sprintf("cc-%d", i%7), "environment": "${env}"},
			"annotations":   map[string]any{"owner": name + "@example.com", "purpose": "workloads of " + name},
			"resourceQuota": map[string]any{"cpu": "4", "memory": "8Gi", "pods": "50"},
			"limitRange":    map[string]any{"container": map[string]any{"default": map[string]any{"cpu": "500m", "memory": "512Mi"}}},
			"defaultDeny":   true,
			"roleBindings": []any{map[string]any{
				"name":     name + "-edit",
				"roleRef":  map[string]any{"kind": "ClusterRole", "name": "edit"},
				"subjects": []any{map[string]any{"kind": "Group", "name": name}},
			}},
		}))
	}
	return entries
}

func TestReadCluster(t *testing.T) {
	s, calls := newStore(t)
	ctx := testContext(t)
	global := []config.Entry{
		entry(t, config.KindSettings, map[string]any{"commonLabels": map[string]any{"managed-by": "dynamo-cmp"}}),
		namespace(t, "monitoring", nil),
	}
	dev := []config.Entry{namespace(t, "dev-tools", nil)}
	cluster := hundredNamespaces(t, "dev-k3s", "dev")
	publish(t, s, config.GlobalLayer, 0, global...)
	publish(t, s, config.EnvLayer("dev"), 0, dev...)
	publish(t, s, config.ClusterLayer("dev-k3s"), 0, cluster...)
	// A second, newer cluster version (one namespace replaced; still 100) and a cluster in
	// an environment never published.
	cluster2 := append(append([]config.Entry{}, cluster[:1]...), cluster[2:]...)
	cluster2 = append(cluster2, namespace(t, "team-new", nil))
	publish(t, s, config.ClusterLayer("dev-k3s"), 1, cluster2...)
	publish(t, s, config.ClusterLayer("qa-1"), 0, clusterRecord(t, "qa-1", "qa"))

	pin := &config.ConfigVersion{Global: 1, Env: 1, Cluster: 1}
	tests := []struct {
		name       string
		req        store.ClusterRequest
		roundTrips int
		calls      map[string]int
		want       config.ConfigVersion
		env        string
		layers     [][]config.Entry
	}{
		{
			name:       "pinned, environment known",
			req:        store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev", Version: pin},
			roundTrips: 1, calls: map[string]int{"Query": 3, "BatchGetItem": 1}, // the cluster head alongside
			want: *pin, env: "dev", layers: [][]config.Entry{global, dev, cluster},
		},
		{
			name:       "pinned, environment unknown",
			req:        store.ClusterRequest{Cluster: "dev-k3s", Version: pin},
			roundTrips: 2, calls: map[string]int{"Query": 3, "BatchGetItem": 1},
			want: *pin, env: "dev", layers: [][]config.Entry{global, dev, cluster},
		},
		{
			name:       "latest, environment known",
			req:        store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev"},
			roundTrips: 2, calls: map[string]int{"BatchGetItem": 1, "Query": 3},
			want: config.ConfigVersion{Global: 1, Env: 1, Cluster: 2}, env: "dev", layers: [][]config.Entry{global, dev, cluster2},
		},
		{
			name:       "latest, environment unknown",
			req:        store.ClusterRequest{Cluster: "dev-k3s"},
			roundTrips: 3, calls: map[string]int{"BatchGetItem": 2, "Query": 3},
			want: config.ConfigVersion{Global: 1, Env: 1, Cluster: 2}, env: "dev", layers: [][]config.Entry{global, dev, cluster2},
		},
		{
			name:       "environment never published",
			req:        store.ClusterRequest{Cluster: "qa-1"},
			roundTrips: 2, calls: map[string]int{"BatchGetItem": 2, "Query": 2},
			want: config.ConfigVersion{Global: 1, Env: 0, Cluster: 1}, env: "qa", layers: [][]config.Entry{global, nil, {clusterRecord(t, "qa-1", "qa")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Reset()
			start := time.Now()
			got, err := s.ReadCluster(ctx, tt.req)
			elapsed := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d round trips, %s, %s", tt.name, got.RoundTrips, calls, elapsed.Round(10*time.Microsecond))
			if got.RoundTrips != tt.roundTrips {
				t.Errorf("RoundTrips = %d, want %d", got.RoundTrips, tt.roundTrips)
			}
			for op, n := range tt.calls {
				if calls.Calls(op) != n {
					t.Errorf("%s calls = %d, want %d (%s)", op, calls.Calls(op), n, calls)
				}
			}
			if sum := sumValues(tt.calls); calls.Total() != sum {
				t.Errorf("%d calls in all, want %d (%s)", calls.Total(), sum, calls)
			}
			if got.Version != tt.want || got.Environment != tt.env {
				t.Errorf("read %s in %q, want %s in %q", got.Version, got.Environment, tt.want, tt.env)
			}
			refs := []config.LayerRef{config.GlobalLayer, config.EnvLayer(tt.env), config.ClusterLayer(tt.req.Cluster)}
			for i, l := range got.Layers {
				if l.Ref != refs[i] || l.Version != []int{tt.want.Global, tt.want.Env, tt.want.Cluster}[i] {
					t.Errorf("layer %d is %s version %d", i, l.Ref, l.Version)
				}
				want := sorted(tt.layers[i])
				if len(want) == 0 {
					want = nil
				}
				if !reflect.DeepEqual(l.Entries, want) {
					t.Errorf("layer %s: %d entries differ from the %d published", l.Ref, len(l.Entries), len(want))
				}
			}
			if got.Cluster.Name != tt.req.Cluster || got.Cluster.Environment != tt.env || got.Cluster.Region != "eu-west-1" || got.Cluster.Vars["domain"] != tt.req.Cluster+".example.com" {
				t.Errorf("cluster record = %+v", got.Cluster)
			}
			if got.Current.Name != tt.req.Cluster || got.Current.Environment != tt.env {
				t.Errorf("current cluster record = %+v", got.Current)
			}
		})
	}

	errTests := []struct {
		name    string
		req     store.ClusterRequest
		wantErr error
		wantMsg string
	}{
		{"unregistered", store.ClusterRequest{Cluster: "ghost"}, store.ErrNotFound, "cluster ghost is not registered"},
		{"unregistered, environment known", store.ClusterRequest{Cluster: "ghost", Environment: "dev"}, store.ErrNotFound, "not registered"},
		{"pinned version 0", store.ClusterRequest{Cluster: "ghost", Environment: "dev", Version: &config.ConfigVersion{Global: 1}}, store.ErrNotFound, "not registered"},
		{"pinned version missing", store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev", Version: &config.ConfigVersion{Global: 1, Env: 1, Cluster: 9}}, store.ErrNotFound, "has no version 9"},
		{"wrong environment", store.ClusterRequest{Cluster: "dev-k3s", Environment: "prod"}, store.ErrWrongEnvironment, "belongs to environment dev, not prod"},
		{"wrong pinned environment", store.ClusterRequest{Cluster: "dev-k3s", Environment: "prod", Version: pin}, store.ErrWrongEnvironment, "belongs to environment dev, not prod"},
		{"invalid name", store.ClusterRequest{Cluster: "Dev K3s"}, nil, "not a valid name"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ReadCluster(ctx, tt.req)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
