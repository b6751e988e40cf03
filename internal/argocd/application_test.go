package argocd_test

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
)

func TestApplicationMatching(t *testing.T) {
	for _, tc := range []struct {
		app     argocdtest.App
		cluster string
		latest  bool
	}{
		{argocdtest.App{Cluster: "dev-a"}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Pinned: "latest"}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Pinned: "g1.e1.c1"}, "dev-a", false},
		{argocdtest.App{Cluster: "dev-a", ViaEnv: true}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", ViaEnv: true, Pinned: "g1.e1.c1"}, "dev-a", false},
		{argocdtest.App{Cluster: "dev-a", MultiSource: true}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Plugin: "dynamo-cmp-v2"}, "", false},
	} {
		app := tc.app.Application(t)
		if c, l := app.Cluster(argocdtest.PluginName), app.FollowsLatest(argocdtest.PluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%+v: cluster %q latest %v, want %q %v", tc.app, c, l, tc.cluster, tc.latest)
		}
	}
}
