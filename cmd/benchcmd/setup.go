package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/configtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// cluster is the synthetic cluster every benchmark renders: "bench" in environment "dev",
// with configtest's n namespaces in env/dev and the cluster record in cluster/bench.
const (
	benchCluster = "bench"
	benchEnv     = "dev"
)

// fixture is a table on DynamoDB Local holding the synthetic cluster.
type fixture struct {
	cfg   store.Config
	store *store.Store
	calls *store.CallCounter
	// pinned is the configVersion of the published layers (g0.e1.c1: no global layer).
	pinned string
	home   string
}

// newFixture creates a fresh table at endpoint and publishes the synthetic cluster with n
// namespaces.
func newFixture(ctx context.Context, endpoint string, n int, dir string) (*fixture, error) {
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		return nil, fmt.Errorf("endpoint %q: benchmarks run against DynamoDB Local on 127.0.0.1 only", endpoint)
	}
	calls := &store.CallCounter{}
	cfg := store.Config{
		Table:             fmt.Sprintf("bench-%d", time.Now().UnixNano()),
		Region:            "us-east-1",
		Endpoint:          endpoint,
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "bench", SecretAccessKey: "bench"},
		Observer:          calls,
	}
	st, err := store.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := st.CreateTable(ctx); err != nil {
		return nil, err
	}
	f := &fixture{cfg: cfg, store: st, calls: calls, home: filepath.Join(dir, "home")}
	if err := os.MkdirAll(f.home, 0o755); err != nil {
		return nil, err
	}
	var versions config.ConfigVersion
	for _, l := range configtest.Layers(n) {
		h, err := st.Publish(ctx, store.PublishInput{Ref: l.Ref, Entries: l.Entries, Actor: "benchcmd", Message: "benchmark"})
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", l.Ref, err)
		}
		switch l.Ref.Scope {
		case config.ScopeEnv:
			versions.Env = h.Version
		case config.ScopeCluster:
			versions.Cluster = h.Version
		}
	}
	f.pinned = versions.String()
	return f, nil
}

// Request kinds of generate: what an Application pins.
const (
	// reqLatest: only the cluster parameter (the environment is learnt from the cluster's head).
	reqLatest = "latest"
	// reqPinned: cluster, environment and the configVersion the ApplicationSet generator
	// serves: the design's main path.
	reqPinned = "pinned"
)

// generateEnv is the environment argocd-cmp-server gives generate in the sidecar: the
// Application's details and parameters, the sidecar's AWS settings, a home without AWS
// files. endpoint may differ from the fixture's (a proxy in front of it).
func (f *fixture) generateEnv(kind, endpoint string) []string {
	params := []map[string]string{{"name": "cluster", "string": benchCluster}}
	if kind == reqPinned {
		params = append(params, map[string]string{"name": "environment", "string": benchEnv}, map[string]string{"name": "configVersion", "string": f.pinned})
	}
	p, _ := json.Marshal(params)
	return []string{
		"HOME=" + f.home,
		"AWS_CONFIG_FILE=" + filepath.Join(f.home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(f.home, "none"),
		"AWS_REGION=" + f.cfg.Region,
		"AWS_ACCESS_KEY_ID=" + f.cfg.StaticCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + f.cfg.StaticCredentials.SecretAccessKey,
		"AWS_ENDPOINT_URL_DYNAMODB=" + endpoint,
		"DYNAMO_CMP_TABLE=" + f.cfg.Table,
		"ARGOCD_APP_NAME=" + benchCluster + "-bootstrap",
		"ARGOCD_APP_NAMESPACE=default",
		"ARGOCD_APP_PROJECT_NAME=platform",
		"ARGOCD_APP_REVISION=0123456789abcdef0123456789abcdef01234567",
		"ARGOCD_APP_SOURCE_REPO_URL=https://git.example.com/platform/clusters.git",
		"ARGOCD_APP_SOURCE_PATH=.",
		"ARGOCD_APP_SOURCE_TARGET_REVISION=HEAD",
		"ARGOCD_APP_PARAMETERS=" + string(p),
		"KUBE_VERSION=1.34.4",
	}
}

// readCost reads the cluster in-process as generate does and returns the calls and the read
// capacity that read consumed.
func (f *fixture) readCost(ctx context.Context, kind string) (calls int, rcu float64, roundTrips int, err error) {
	req := store.ClusterRequest{Cluster: benchCluster}
	if kind == reqPinned {
		v, err := config.ParseConfigVersion(f.pinned)
		if err != nil {
			return 0, 0, 0, err
		}
		req.Environment, req.Version = benchEnv, &v
	}
	f.calls.Reset()
	read, err := f.store.ReadCluster(ctx, req)
	if err != nil {
		return 0, 0, 0, err
	}
	return f.calls.Total(), f.calls.ReadUnits(), read.RoundTrips, nil
}
