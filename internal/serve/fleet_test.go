package serve

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// TestFleetStatusReachesMetricsAndTable: with the Argo CD API, serve reads every cluster's
// Applications even when nothing rolls out, exports them as dynamo_cmp_serve_cluster_info and
// records them in the table for `clusters status`.
func TestFleetStatusReachesMetricsAndTable(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	argo := newFakeArgo(t,
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-bootstrap", Cluster: "dev-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "prod-a-bootstrap", Cluster: "prod-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "OutOfSync", Health: "Degraded"},
	)
	opts := baseOptions(t, st)
	opts.ArgoCD = argo.options()
	_, _, ops := runServers(t, opts)
	metrics := func() string {
		resp, err := http.Get(ops + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	want := []string{
		`dynamo_cmp_serve_cluster_info{cluster="dev-a",environment="dev",health="Healthy",served="g1.e1.c1",sync="Synced",synced="g1.e1.c1"} 1`,
		`dynamo_cmp_serve_cluster_info{cluster="prod-a",environment="prod",health="Degraded",served="g1.e1.c1",sync="OutOfSync",synced=""} 1`,
		`dynamo_cmp_serve_cluster_info{cluster="dev-b",environment="dev",health="Unknown",served="g1.e1.c1",sync="Unknown",synced=""} 1`,
	}
	eventually(t, "the cluster metrics", func() bool {
		m := metrics()
		for _, w := range want {
			if !strings.Contains(m, w) {
				return false
			}
		}
		return true
	})
	// The metrics are set before the observations are written: wait for the table too.
	var obs map[string]store.Observation
	eventually(t, "the observations in the table", func() bool {
		var err error
		obs, err = st.Observations(testContext(t), "dev-a", "prod-a", "dev-b")
		if err != nil {
			t.Fatal(err)
		}
		return len(obs) == 3
	})
	if o := obs["dev-a"]; o.SyncedVersion != "g1.e1.c1" || o.Applications != 1 || o.Replica != "test" {
		t.Errorf("dev-a observation %+v, want synced g1.e1.c1 on 1 Application by replica test", o)
	}
	if o := obs["prod-a"]; o.Health != "Degraded" || o.SyncedVersion != "" {
		t.Errorf("prod-a observation %+v, want Degraded and no synced version", o)
	}
	if o := obs["dev-b"]; o.Applications != 0 || o.Sync != "Unknown" {
		t.Errorf("dev-b observation %+v, want no Applications", o)
	}
}
