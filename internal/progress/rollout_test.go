package progress

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
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
		// Argo CD hides a failed sync while it retries: the operation stays Running.
		{"a failed attempt of the target, Argo CD waiting to retry it", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpSource: "g1.e2.c3", OpRetries: 1, OpStarted: since.Add(time.Second), OpFinished: since.Add(3 * time.Second),
			OpMessage: "one or more objects failed to apply, reason: denied. Retrying attempt #1 at 10:00AM.", OpResults: failedWidget}, time.Time{}, failed},
		{"the retry of a failed attempt of the target running", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpSource: "g1.e2.c3", OpRetries: 2, OpStarted: since.Add(time.Second), OpMessage: "Retrying operation. Attempt #2"}, time.Time{}, failed},
		{"an attempt of the target failing while its SyncFail hooks run", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpSource: "g1.e2.c3", OpStarted: since.Add(time.Second), OpMessage: "one or more tasks are running", OpResults: failedWidget}, time.Time{}, failed},
		{"the first attempt of the target still syncing", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Progressing",
			OpPhase: "Running", OpSource: "g1.e2.c3", OpStarted: since.Add(time.Second), OpMessage: "one or more tasks are running", OpResults: syncedQuota}, time.Time{}, pending},
		{"succeeded on the target after a retry", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "Synced", Health: "Healthy",
			OpPhase: "Succeeded", OpSource: "g1.e2.c3", OpRetries: 1, OpStarted: since.Add(time.Second), OpFinished: since.Add(20 * time.Second), OpResults: syncedQuota}, time.Time{}, good},
		{"an operation of the previous version still retrying", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpSource: "g1.e1.c3", OpRetries: 2, OpStarted: since.Add(time.Second), OpFinished: since.Add(3 * time.Second), OpResults: failedWidget}, time.Time{}, pending},
		{"a failed operation of the previous version that started after the change", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Failed", OpSource: "g1.e1.c3", OpRetries: 3, OpStarted: since.Add(time.Second), OpResults: failedWidget}, time.Time{}, pending},
		{"a retrying operation that names no version", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpRetries: 1, OpStarted: since.Add(time.Second), OpMessage: "Retrying operation. Attempt #1"}, time.Time{}, pending},
		{"a failed attempt of the target, multi-source", argocdtest.App{MultiSource: true, Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpSource: "g1.e2.c3", OpRetries: 1, OpStarted: since.Add(time.Second), OpFinished: since.Add(3 * time.Second), OpResults: failedWidget}, time.Time{}, failed},
		{"its automated sync refused on the target (SyncError)", argocdtest.App{Pinned: "g1.e2.c3", Compared: "g1.e2.c3", Sync: "OutOfSync", Health: "Healthy",
			ConditionType: "SyncError", Condition: "Skipping sync attempt to [HEAD]: auto-sync will wipe out all resources"}, time.Time{}, failed},
		{"a failed attempt of latest after the hard refresh", argocdtest.App{Sync: "OutOfSync", Health: "Healthy",
			OpPhase: "Running", OpRetries: 1, OpStarted: since.Add(2 * time.Second), OpFinished: since.Add(3 * time.Second), OpResults: failedWidget}, since.Add(time.Second), failed},
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

var (
	failedWidget = []argocd.ResourceResult{
		{Kind: "ResourceQuota", Namespace: "monitoring", Name: "monitoring-quota", Status: "Synced", Message: "resourcequota/monitoring-quota configured"},
		{Group: "widgets.example.com", Kind: "Widget", Namespace: "monitoring", Name: "no-such-crd", Status: "SyncFailed", Message: "the server could not find the requested resource"},
	}
	syncedQuota = []argocd.ResourceResult{{Kind: "ResourceQuota", Namespace: "monitoring", Name: "monitoring-quota", Status: "Synced", Message: "resourcequota/monitoring-quota configured"}}
)

// argoApp reads testdata/<name>.json, an Application as the Argo CD v3.5.7 API answers it,
// after edit (nil: none) changes its decoded JSON.
func argoApp(t *testing.T, name string, edit func(doc map[string]any)) *argocd.Application {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(doc)
		if data, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	var app argocd.Application
	if err := json.Unmarshal(data, &app); err != nil {
		t.Fatal(err)
	}
	return &app
}

// at walks doc along path (map keys) and returns the map found there.
func at(t *testing.T, doc map[string]any, path ...string) map[string]any {
	t.Helper()
	m := doc
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("testdata: no object at %v", path)
		}
		m = next
	}
	return m
}

// pin sets the configVersion parameter of the plugin source at path.
func pin(t *testing.T, doc map[string]any, version string, path ...string) {
	t.Helper()
	for _, p := range at(t, doc, append(path, "plugin")...)["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == "configVersion" {
			p["string"] = version
		}
	}
}

// crdMissing is Argo CD v3.5.7's message for an object whose CRD is absent (TestArgoCDLoop).
const crdMissing = `The Kubernetes API could not find widgets.example.com/Widget for requested resource monitoring/no-such-crd. Make sure the "Widget" CRD is installed on the destination cluster.`

// TestJudgeAFailedAttemptAsArgoCDReportsIt: the canary's first sync attempt of the new
// version failed (an object the API server rejects); Argo CD's retry policy (limit 3,
// 10 s × 2ⁿ) keeps the operation Running for minutes. The attempt fails the Application at
// once; an old operation of the previous version never does.
func TestJudgeAFailedAttemptAsArgoCDReportsIt(t *testing.T) {
	target := config.ConfigVersion{Global: 1, Env: 2, Cluster: 1}
	since := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) // the wave started; the operation at 10:00:01
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, doc map[string]any)
		want verdict
		msg  string
	}{
		{"waiting to retry the failed attempt", nil, failed, "sync attempt failed (Argo CD retries it, retry 1): Widget monitoring/no-such-crd: " + crdMissing},
		{"the retry running", func(t *testing.T, doc map[string]any) {
			op := at(t, doc, "status", "operationState")
			delete(op, "syncResult")
			delete(op, "finishedAt")
			op["message"] = "Retrying operation. Attempt #1"
		}, failed, "sync attempt failed (Argo CD retries it, retry 1): Retrying operation. Attempt #1"},
		{"retries spent", func(t *testing.T, doc map[string]any) {
			op := at(t, doc, "status", "operationState")
			op["phase"], op["retryCount"] = "Failed", 3
			op["message"] = "one or more synchronization tasks are not valid (retried 3 times)."
		}, failed, "sync failed: Widget monitoring/no-such-crd: " + crdMissing},
		{"the first attempt still running", func(t *testing.T, doc map[string]any) {
			op := at(t, doc, "status", "operationState")
			delete(op, "finishedAt")
			delete(op, "retryCount")
			op["message"] = "one or more tasks are running"
			res := at(t, doc, "status", "operationState", "syncResult")
			res["resources"] = []any{map[string]any{"group": "", "version": "v1", "kind": "ResourceQuota", "namespace": "monitoring", "name": "monitoring-quota",
				"status": "Synced", "message": "resourcequota/monitoring-quota configured", "hookPhase": "Running", "syncPhase": "Sync"}}
		}, pending, "sync OutOfSync, health Healthy"},
		{"a newer version served: the operation retries the previous one", func(t *testing.T, doc map[string]any) {
			pin(t, doc, "g1.e3.c1", "spec", "source")
			pin(t, doc, "g1.e3.c1", "status", "sync", "comparedTo", "source")
		}, pending, ""},
		{"the stable version served again (a halt): the operation retries the bad one", func(t *testing.T, doc map[string]any) {
			pin(t, doc, "g1.e1.c1", "spec", "source")
			pin(t, doc, "g1.e1.c1", "status", "sync", "comparedTo", "source")
		}, pending, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := argoApp(t, "app-retrying", func(doc map[string]any) {
				if tc.edit != nil {
					tc.edit(t, doc)
				}
			})
			served := target
			if v := app.Spec.Source.Version(); v != target.String() {
				served, _ = config.ParseConfigVersion(v)
			}
			got, st := judge(app, argocdtest.PluginName, served, since, since)
			if got != tc.want || (tc.msg != "" && st.Message != tc.msg) {
				t.Errorf("verdict %d %q, want %d %q", got, st.Message, tc.want, tc.msg)
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
