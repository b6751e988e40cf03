package argocd_test

import (
	"encoding/json"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
)

func decodeApp(t *testing.T, a *argocdtest.App) *argocd.Application {
	t.Helper()
	data, err := json.Marshal(a.JSON())
	if err != nil {
		t.Fatal(err)
	}
	var app argocd.Application
	if err := json.Unmarshal(data, &app); err != nil {
		t.Fatal(err)
	}
	return &app
}

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
		app := decodeApp(t, &tc.app)
		if c, l := app.Cluster(argocdtest.PluginName), app.FollowsLatest(argocdtest.PluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%+v: cluster %q latest %v, want %q %v", tc.app, c, l, tc.cluster, tc.latest)
		}
	}
}
