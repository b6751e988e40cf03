package rollout

import (
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

func TestJudgeApplications(t *testing.T) {
	target := config.ConfigVersion{Global: 1, Env: 2, Cluster: 3}
	since := time.Date(2026, 11, 22, 10, 0, 0, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name      string
		app       argocdtest.App
		refreshed time.Time
		want      verdict
	}{
		{"pinned, synced and healthy on the target", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"pinned via plugin env", argocdtest.App{ViaEnv: true, Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"multi-source", argocdtest.App{MultiSource: true, Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, good},
		{"spec not yet updated by the ApplicationSet", argocdtest.App{Pinned: "g1.e1.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"not yet compared with the new spec", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"old version degraded: not our failure yet", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e1.c3", Sync: "Synced", Health: "Degraded"}, time.Time{}, pending},
		{"out of sync on the target", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy"}, time.Time{}, pending},
		{"progressing", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Progressing"}, time.Time{}, pending},
		{"degraded on the target", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Degraded"}, time.Time{}, failed},
		{"rendering failed on the target", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Unknown", Health: "Healthy", Condition: "dynamo-cmp could not render"}, time.Time{}, failed},
		{"sync failed after the change", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Failed", OpStarted: since.Add(time.Second)}, time.Time{}, failed},
		{"sync failed in the same second", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Error", OpStarted: since.Truncate(time.Second)}, time.Time{}, failed},
		{"an old failed sync", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy", OpPhase: "Failed", OpStarted: since.Add(-time.Hour)}, time.Time{}, pending},
		{"latest, not refreshed yet", argocdtest.App{Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
		{"latest, refreshed before the change", argocdtest.App{Sync: "Synced", Health: "Healthy"}, since.Add(-time.Second), pending},
		{"latest, refreshed after the change", argocdtest.App{Sync: "Synced", Health: "Healthy"}, since.Add(time.Second), good},
		{"latest explicitly, refreshed, degraded", argocdtest.App{Pinned: "latest", Sync: "Synced", Health: "Degraded"}, since.Add(time.Second), failed},
		{"another plugin", argocdtest.App{Plugin: "kustomize-v1", Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy"}, time.Time{}, pending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.app
			a.Namespace, a.Name, a.Cluster = "argocd", "app", "dev-a"
			got, st := judge(a.Application(t), argocdtest.PluginName, target, since, tc.refreshed)
			if got != tc.want {
				t.Errorf("verdict %d (%s), want %d", got, st.Message, tc.want)
			}
		})
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
