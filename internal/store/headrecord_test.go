package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// A head written around dynamo-cmp — what a credential that may put a head item could write,
// such as serve's auto-rollback role — with a cluster record that is not its version's: other
// variables and projects, or another environment. A latest read renders and authorises with
// the version's own record (the one its digest protects), and refuses a head that leads it to
// another environment.
func TestLatestReadTrustsTheVersionsRecordNotTheHeads(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	h := publish(t, s, config.ClusterLayer("a"), 0, clusterRecord(t, "a", "dev"))
	publish(t, s, config.EnvLayer("prod"), 0, namespace(t, "prod-only", nil))
	forge := func(env string) {
		t.Helper()
		err := store.PutRawItem(ctx, s, map[string]any{
			"pk": "cluster#a", "sk": "head", "layer": "cluster/a", "version": h.Version, "previous": 0,
			"at": h.At.Format(time.RFC3339Nano), "digest": h.Digest, "entries": h.Entries, "action": "rollback",
			"cluster": map[string]any{"name": "a", "environment": env, "region": "eu-west-1",
				"projects": []any{"platform", "intruder"}, "vars": map[string]any{"account": "999999999999", "domain": "evil.example.com"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	forge("dev")
	for _, env := range []string{"dev", ""} {
		out, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "a", Environment: env})
		if err != nil {
			t.Fatalf("environment %q: %v", env, err)
		}
		if out.Cluster.Vars["domain"] != "a.example.com" || strings.Join(out.Cluster.Projects, ",") != "platform" ||
			strings.Join(out.Current.Projects, ",") != "platform" {
			t.Errorf("environment %q: rendered with the head's record %+v (current %+v), want the version's", env, out.Cluster, out.Current)
		}
	}
	forge("prod")
	if _, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "a"}); !errors.Is(err, store.ErrInvalidItem) || !strings.Contains(err.Error(), `pk="cluster#a" sk="head"`) {
		t.Fatalf("a head leading the read to another environment: %v, want ErrInvalidItem naming the head", err)
	}
}
