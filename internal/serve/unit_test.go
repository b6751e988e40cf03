package serve

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

func decodeApp(t *testing.T, a *testApp) *application {
	t.Helper()
	data, err := json.Marshal(a.json())
	if err != nil {
		t.Fatal(err)
	}
	var app application
	if err := json.Unmarshal(data, &app); err != nil {
		t.Fatal(err)
	}
	return &app
}

func TestJudgeApplications(t *testing.T) {
	target := config.ConfigVersion{Global: 1, Env: 2, Cluster: 3}
	since := time.Date(2026, 11, 22, 10, 0, 0, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name      string
		app       testApp
		refreshed time.Time
		want      verdict
	}{
		{"pinned, synced and healthy on the target", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"pinned via plugin env", testApp{ViaEnv: true, Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"multi-source", testApp{MultiSource: true, Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"spec not yet updated by the ApplicationSet", testApp{Pinned: "g1.e1.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"not yet compared with the new spec", testApp{Pinned: "g1.e2.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"old version degraded: not our failure yet", testApp{Pinned: "g1.e2.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Degraded"}, time.Time{}, pending},
		{"out of sync on the target", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy"}, time.Time{}, pending},
		{"progressing", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Progressing"}, time.Time{}, pending},
		{"degraded on the target", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Degraded"}, time.Time{}, failed},
		{"rendering failed on the target", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Unknown", Health: "Healthy", Condition: "dynamo-cmp could not render"}, time.Time{}, failed},
		{"sync failed after the change", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Failed", OpStarted: since.Add(time.Second)}, time.Time{}, failed},
		{"sync failed in the same second", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Error", OpStarted: since.Truncate(time.Second)}, time.Time{}, failed},
		{"an old failed sync", testApp{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Failed", OpStarted: since.Add(-time.Hour)}, time.Time{}, pending},
		{"latest, not refreshed yet", testApp{Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"latest, refreshed before the change", testApp{Sync: "Synced", Health: "Healthy"}, since.Add(-time.Second), pending},
		{"latest, refreshed after the change", testApp{Sync: "Synced", Health: "Healthy"}, since.Add(time.Second), good},
		{"latest explicitly, refreshed, degraded", testApp{Pinned: "latest", Sync: "Synced", Health: "Degraded"}, since.Add(time.Second), failed},
		{"another plugin", testApp{Plugin: "kustomize-v1", Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.app
			a.Namespace, a.Name, a.Cluster = "argocd", "app", "dev-a"
			got, st := judge(decodeApp(t, &a), DefaultPluginName, target, since, tc.refreshed)
			if got != tc.want {
				t.Errorf("verdict %d (%s), want %d", got, st.Message, tc.want)
			}
		})
	}
}

func TestApplicationMatching(t *testing.T) {
	for _, tc := range []struct {
		app     testApp
		cluster string
		latest  bool
	}{
		{testApp{Cluster: "dev-a"}, "dev-a", true},
		{testApp{Cluster: "dev-a", Pinned: "latest"}, "dev-a", true},
		{testApp{Cluster: "dev-a", Pinned: "g1.e1.c1"}, "dev-a", false},
		{testApp{Cluster: "dev-a", ViaEnv: true}, "dev-a", true},
		{testApp{Cluster: "dev-a", ViaEnv: true, Pinned: "g1.e1.c1"}, "dev-a", false},
		{testApp{Cluster: "dev-a", MultiSource: true}, "dev-a", true},
		{testApp{Cluster: "dev-a", Plugin: "dynamo-cmp-v2"}, "", false},
	} {
		app := decodeApp(t, &tc.app)
		if c, l := app.cluster(DefaultPluginName), app.followsLatest(DefaultPluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%+v: cluster %q latest %v, want %q %v", tc.app, c, l, tc.cluster, tc.latest)
		}
	}
}

func TestPluginInputs(t *testing.T) {
	raw := func(v any) json.RawMessage {
		b, _ := json.Marshal(v)
		return b
	}
	deep := pluginGen(DefaultConfigMapName, map[string]any{"environment": "prod"})
	for range maxGeneratorDepth + 2 {
		deep = map[string]any{"matrix": map[string]any{"generators": []any{deep, listGen()}}}
	}
	for _, tc := range []struct {
		name string
		gens []any
		want int
	}{
		{"plain", []any{pluginGen(DefaultConfigMapName, nil)}, 1},
		{"another ConfigMap", []any{pluginGen("other", nil)}, 0},
		{"list only", []any{listGen()}, 0},
		{"matrix", []any{map[string]any{"matrix": map[string]any{"generators": []any{listGen(), pluginGen(DefaultConfigMapName, map[string]any{"environment": "dev"})}}}}, 1},
		{"merge of matrix", []any{map[string]any{"merge": map[string]any{"generators": []any{
			map[string]any{"matrix": map[string]any{"generators": []any{pluginGen(DefaultConfigMapName, nil), listGen()}}},
			pluginGen(DefaultConfigMapName, map[string]any{"namePattern": "x-*"}),
		}}}}, 2},
		{"too deep", []any{deep}, 0},
		{"malformed generator", []any{"not an object", pluginGen(DefaultConfigMapName, nil)}, 1},
	} {
		var gens []json.RawMessage
		for _, g := range tc.gens {
			gens = append(gens, raw(g))
		}
		if got := pluginInputs(gens, DefaultConfigMapName); len(got) != tc.want {
			t.Errorf("%s: %d plugin generators found, want %d", tc.name, len(got), tc.want)
		}
	}

	gold := namedCluster{name: "a", record: config.Cluster{Environment: "dev", Labels: map[string]string{"tier": "gold"}}}
	inputs := func(p map[string]any) []map[string]json.RawMessage {
		return pluginInputs([]json.RawMessage{raw(pluginGen(DefaultConfigMapName, p))}, DefaultConfigMapName)
	}
	clusters := map[string]namedCluster{clusterKey(gold): gold}
	for _, tc := range []struct {
		params map[string]any
		want   bool
	}{
		{nil, true},
		{map[string]any{"environment": "dev"}, true},
		{map[string]any{"environment": "prod"}, false},
		{map[string]any{"labelSelector": "tier=silver"}, false},
		{map[string]any{"labelSelector": "tier in (gold"}, true}, // invalid: refresh (the controller shows the error)
		{map[string]any{"environment": "{{.env}}"}, true},        // templated from a matrix's other generator
	} {
		if got := selects(inputs(tc.params), clusters); got != tc.want {
			t.Errorf("selects(%v) = %v, want %v", tc.params, got, tc.want)
		}
	}
}

func TestLayerPatterns(t *testing.T) {
	ps, err := ParseLayerPatterns([]string{"global", " env/prod ", "cluster/*", ""})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[config.LayerRef]bool{
		config.GlobalLayer:         true,
		config.EnvLayer("prod"):    true,
		config.EnvLayer("dev"):     false,
		config.ClusterLayer("any"): true,
	} {
		if got := ps.Match(ref); got != want {
			t.Errorf("Match(%s) = %v, want %v", ref, got, want)
		}
	}
	if _, err := ParseLayerPatterns([]string{"env/Prod", "prod", "env/*"}); err == nil {
		t.Error("invalid layer names accepted")
	}
	if ps, _ := ParseLayerPatterns([]string{"*"}); !ps.Match(config.EnvLayer("x")) {
		t.Error("* does not match every layer")
	}
}

func TestDiffSnapshots(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rec := func(env string) *config.Cluster { return &config.Cluster{Name: "a", Environment: env} }
	old := newSnapshot(1, []store.Head{
		{Ref: config.GlobalLayer, Version: 1, At: at},
		{Ref: config.EnvLayer("dev"), Version: 1, At: at},
		{Ref: config.ClusterLayer("a"), Version: 1, At: at, Cluster: rec("dev")},
	}, at)
	cur := newSnapshot(4, []store.Head{
		{Ref: config.GlobalLayer, Version: 1, At: at},
		{Ref: config.EnvLayer("dev"), Version: 1, At: at.Add(time.Minute), Action: store.ActionRollback, Previous: 2}, // 1→2→1 between two polls
		{Ref: config.EnvLayer("prod"), Version: 1, At: at.Add(time.Minute)},
		{Ref: config.ClusterLayer("a"), Version: 2, At: at.Add(time.Minute), Cluster: rec("prod")},
	}, at)
	changes := diffSnapshots(old, cur, at)
	var got []string
	for _, c := range changes {
		got = append(got, c.Ref.String())
	}
	if want := []string{"env/dev", "env/prod", "cluster/a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	a := changes[2]
	if a.From != 1 || len(a.Clusters) != 1 || a.Clusters[0].Record.Environment != "prod" || len(a.Before) != 1 || a.Before[0].Record.Environment != "dev" {
		t.Errorf("cluster/a change %+v: want the record before (dev) and after (prod)", a)
	}
	if len(changes[1].Clusters) != 1 || changes[0].Clusters != nil {
		t.Errorf("affected clusters: env/prod %v, env/dev %v", changes[1].Clusters, changes[0].Clusters)
	}
}
