package argocd_test

import (
	"encoding/json"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
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

// TestApplicationReadsAsGenerate: an Application's plugin source as the Argo CD API answers
// it reads as generate will read it (plugin.NewSource): of an env entry given twice the last,
// and a parameter that is not a string still counts as given.
func TestApplicationReadsAsGenerate(t *testing.T) {
	for _, tc := range []struct {
		plugin  string
		cluster string
		latest  bool
	}{
		{`{"name":"dynamo-cmp-v1","env":[{"name":"CLUSTER","value":"dev-a"},{"name":"CLUSTER","value":"dev-b"}]}`, "dev-b", true},
		{`{"name":"dynamo-cmp-v1","parameters":[{"name":"cluster","string":"dev-a"},{"name":"configVersion","array":["g1.e1.c1"]}],"env":[{"name":"CONFIG_VERSION","value":"g1.e1.c1"}]}`, "dev-a", true},
		{`{"name":"dynamo-cmp-v1","parameters":[{"name":"cluster","map":{"a":"b"}}],"env":[{"name":"CLUSTER","value":"dev-a"}]}`, "", true},
	} {
		var app argocd.Application
		if err := json.Unmarshal([]byte(`{"spec":{"source":{"plugin":`+tc.plugin+`}}}`), &app); err != nil {
			t.Fatal(err)
		}
		if c, l := app.Cluster(argocdtest.PluginName), app.FollowsLatest(argocdtest.PluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%s: cluster %q latest %v, want %q %v", tc.plugin, c, l, tc.cluster, tc.latest)
		}
	}
}
