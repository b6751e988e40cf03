package serve

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// patchedNames returns the sorted "<namespace>/<name>" of the patches, without repeats.
func patchedNames(ps []patchRecord) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ps {
		k := p.namespace + "/" + p.name
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestPublishAnnotatesTheApplicationSetsUsingTheGenerator(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	kube := newFakeKube(t)
	kube.add("argocd", "platform-dev", pluginGen(DefaultConfigMapName, map[string]any{"environment": "dev"}))
	kube.add("argocd", "platform-prod", pluginGen(DefaultConfigMapName, map[string]any{"environment": "prod"}))
	kube.add("argocd", "matrix-all", map[string]any{"matrix": map[string]any{"generators": []any{pluginGen(DefaultConfigMapName, nil), listGen()}}})
	kube.add("argocd", "merge-gold", map[string]any{"merge": map[string]any{"mergeKeys": []any{"cluster"}, "generators": []any{
		map[string]any{"matrix": map[string]any{"generators": []any{pluginGen(DefaultConfigMapName, map[string]any{"labelSelector": "tier=gold"}), listGen()}}},
		listGen(),
	}}})
	kube.add("argocd", "other-plugin", pluginGen("someone-elses-generator", nil))
	kube.add("argocd", "list-only", listGen())
	kube.add("team-x", "unwatched", pluginGen(DefaultConfigMapName, nil))

	opts := baseOptions(t, st)
	opts.Kube = kube.options(t)
	_, base := runServer(t, opts)

	// Every change is one round of the annotator: a list, then the patches. A round is checked
	// once the next has begun (the next publish's): then nothing more can join it, however
	// slow the machine.
	// At start, every ApplicationSet using the generator is refreshed once (publishes made
	// while no replica ran reach them now).
	usingGenerator := []string{"argocd/matrix-all", "argocd/merge-gold", "argocd/platform-dev", "argocd/platform-prod"}
	checkRound := func(i int, what string, want []string) {
		t.Helper()
		patches := kube.round(t, i)
		if got := patchedNames(patches); !reflect.DeepEqual(got, want) || len(patches) != len(want) {
			t.Errorf("%s: patched %v (%d patches), want %v once each", what, got, len(patches), want)
		}
		for _, p := range patches {
			if p.contentType != "application/merge-patch+json" || p.body != `{"metadata":{"annotations":{"argocd.argoproj.io/application-set-refresh":"true"}}}` {
				t.Errorf("%s: patch %s %q, want a JSON merge patch of the refresh annotation", what, p.contentType, p.body)
			}
		}
	}
	prevName, prevWant := "startup refresh", usingGenerator
	for i, tc := range []struct {
		name    string
		publish func()
		want    []string
	}{
		{"env/dev (dev-a is gold)", func() {
			publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-2"))
		}, []string{"argocd/matrix-all", "argocd/merge-gold", "argocd/platform-dev"}},
		{"cluster/prod-b (silver)", func() {
			publish(t, st, config.ClusterLayer("prod-b"), clusterEntry(t, fleet[3]), namespaceEntry(t, "apps-2"))
		}, []string{"argocd/matrix-all", "argocd/platform-prod"}},
		{"cluster/prod-b joins the gold selector", func() {
			c := fleet[3]
			c.labels = map[string]any{"tier": "gold"}
			publish(t, st, config.ClusterLayer("prod-b"), clusterEntry(t, c), namespaceEntry(t, "apps-2"))
		}, []string{"argocd/matrix-all", "argocd/merge-gold", "argocd/platform-prod"}},
		{"cluster/prod-b leaves it (its Application must go)", func() {
			publish(t, st, config.ClusterLayer("prod-b"), clusterEntry(t, fleet[3]), namespaceEntry(t, "apps-2"))
		}, []string{"argocd/matrix-all", "argocd/merge-gold", "argocd/platform-prod"}},
		{"global", func() {
			publish(t, st, config.GlobalLayer, namespaceEntry(t, "base"), namespaceEntry(t, "base-2"))
		}, usingGenerator},
		{"cluster/dev-b (closes the round before)", func() {
			publish(t, st, config.ClusterLayer("dev-b"), clusterEntry(t, fleet[1]), namespaceEntry(t, "apps-2"))
		}, nil},
	} {
		// Round i (the change before) is complete once this change's round has begun.
		tc.publish()
		checkRound(i, prevName, prevWant)
		prevName, prevWant = tc.name, tc.want
	}
	// By the time ApplicationSets are annotated, the generator serves the new version.
	if v := servedVersion(t, base, "prod-b"); v != "g2.e1.c4" {
		t.Errorf("served %s for prod-b, want g2.e1.c4", v)
	}
	kube.mu.Lock()
	defer kube.mu.Unlock()
	if kube.lists["team-x"] != 0 {
		t.Errorf("ApplicationSets of an unwatched namespace were listed")
	}
}

// After a failed reconcile the ApplicationSet controller leaves the refresh annotation in
// place, and it reconciles only when the annotation appears: setting "true" again would wake
// nothing.
func TestAStuckRefreshAnnotationStillWakesTheController(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	kube := newFakeKube(t)
	kube.apply = true
	kube.add("argocd", "platform", pluginGen(DefaultConfigMapName, nil))
	kube.annotate("argocd", "platform", "argocd.argoproj.io/application-set-refresh", "true")
	opts := baseOptions(t, st)
	opts.Kube = kube.options(t)
	runServer(t, opts)
	eventually(t, "the startup refresh wakes the controller", func() bool { return kube.woken("argocd/platform") == 1 })
	publish(t, st, config.GlobalLayer, namespaceEntry(t, "x"))
	eventually(t, "the publish wakes the controller again", func() bool { return kube.woken("argocd/platform") == 2 })
}

func TestAnnotationsAreRepeatedOnceForOtherReplicas(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	kube := newFakeKube(t)
	// Listed in this order: in a round, platform-dev is patched before platform-prod.
	kube.add("argocd", "platform-dev", pluginGen(DefaultConfigMapName, map[string]any{"environment": "dev"}))
	kube.add("argocd", "platform-prod", pluginGen(DefaultConfigMapName, map[string]any{"environment": "prod"}))
	opts := baseOptions(t, st)
	opts.Kube = kube.options(t)
	opts.ReannotateAfter = 200 * time.Millisecond
	runServer(t, opts)
	const dev, prod = "argocd/platform-dev", "argocd/platform-prod"
	eventually(t, "the startup refresh and its repeat", func() bool { return kube.patchCount(dev) >= 2 && kube.patchCount(prod) >= 2 })

	// The annotator takes its work in the order it falls due. A publish of env/prod now is
	// refreshed now and repeated ReannotateAfter later, so once its repeat is done, a third
	// refresh of what came before (due earlier) would have been made: in an earlier round, or
	// in the same round, where platform-dev is patched before platform-prod.
	probe := func(wantProd int) {
		t.Helper()
		publish(t, st, config.EnvLayer("prod"), namespaceEntry(t, "prod-tools"), namespaceEntry(t, fmt.Sprintf("probe-%d", wantProd)))
		eventually(t, "the env/prod refresh and its repeat", func() bool { return kube.patchCount(prod) >= wantProd })
	}
	probe(4)
	if n := kube.patchCount(dev); n != 2 {
		t.Fatalf("startup: platform-dev patched %d times, want 2 (once, and once more for replicas that had not yet seen the change)", n)
	}
	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-2"))
	eventually(t, "the env/dev refresh and its repeat", func() bool { return kube.patchCount(dev) >= 4 })
	probe(6)
	if n := kube.patchCount(dev) - 2; n != 2 {
		t.Fatalf("after a publish: platform-dev patched %d times, want 2", n)
	}
}

func TestLatestApplicationsAreHardRefreshed(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	argo := newFakeArgo(t,
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-latest", Cluster: "dev-a", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-pinned", Cluster: "dev-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "dev-b-env", Cluster: "dev-b", Pinned: "latest", ViaEnv: true, Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "team-apps", Name: "dev-b-multi", Cluster: "dev-b", MultiSource: true, Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "prod-a-latest", Cluster: "prod-a", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "other-plugin", Cluster: "dev-a", Plugin: "kustomize-v1", Sync: "Synced", Health: "Healthy"},
	)
	opts := baseOptions(t, st)
	opts.ArgoCD = argo.options()
	runServer(t, opts)
	eventually(t, "the first Application list", func() bool { argo.mu.Lock(); defer argo.mu.Unlock(); return argo.lists > 0 })
	if got := argo.refreshed(); len(got) != 0 {
		t.Fatalf("refreshed %v before any change", got)
	}

	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-2"))
	want := []string{"argocd/dev-a-latest", "argocd/dev-b-env", "team-apps/dev-b-multi"}
	eventually(t, "hard refreshes", func() bool { return len(argo.refreshed()) >= len(want) })
	// Changes are refreshed one round after the other: once a later change's refresh is
	// seen, the dev change's round is complete.
	publish(t, st, config.ClusterLayer("prod-a"), clusterEntry(t, fleet[2]), namespaceEntry(t, "apps-2"))
	eventually(t, "the later change's hard refresh", func() bool { return slices.Contains(argo.refreshed(), "argocd/prod-a-latest") })
	got := argo.refreshed()
	sort.Strings(got)
	want = append(want, "argocd/prod-a-latest")
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hard-refreshed %v, want %v (only Applications of the changed clusters rendering latest, each once)", got, want)
	}
}

// TestAutomatedLatestApplicationsAreSynced: Argo CD's automated sync skips a Git revision
// it has synced already, so a hard refresh alone leaves a publish unapplied (only selfHeal
// would apply it, with backoff). After the hard refresh, serve asks Argo CD to sync the
// Applications following latest whose sync policy is automated, and asks again when a sync
// was running.
func TestAutomatedLatestApplicationsAreSynced(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	argo := newFakeArgo(t,
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-auto", Cluster: "dev-a", Automated: true, Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-manual", Cluster: "dev-a", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-pinned", Cluster: "dev-a", Automated: true, Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "team-apps", Name: "dev-b-auto", Cluster: "dev-b", Automated: true, MultiSource: true, Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "prod-a-auto", Cluster: "prod-a", Automated: true, Sync: "Synced", Health: "Healthy"},
	)
	argo.busy = 1 // the first sync request finds a sync running
	opts := baseOptions(t, st)
	opts.ArgoCD = argo.options()
	runServer(t, opts)
	eventually(t, "the first Application list", func() bool { argo.mu.Lock(); defer argo.mu.Unlock(); return argo.lists > 0 })

	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-2"))
	want := []string{"argocd/dev-a-auto", "team-apps/dev-b-auto"}
	eventually(t, "sync requests", func() bool { return len(argo.synced()) >= len(want) })
	// Changes are refreshed one round after the other: once a later change's sync is seen,
	// the dev change's round (its retried sync included) is complete.
	publish(t, st, config.ClusterLayer("prod-a"), clusterEntry(t, fleet[2]), namespaceEntry(t, "apps-2"))
	eventually(t, "the later change's sync", func() bool { return slices.Contains(argo.synced(), "argocd/prod-a-auto") })
	got := argo.synced()
	sort.Strings(got)
	want = []string{"argocd/dev-a-auto", "argocd/prod-a-auto", "team-apps/dev-b-auto"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("synced %v, want %v (only automated Applications of the changed clusters rendering latest, each once)", got, want)
	}
	argo.mu.Lock()
	defer argo.mu.Unlock()
	if argo.busy != 0 {
		t.Errorf("the refused sync request was not made")
	}
	for _, b := range argo.syncBodies {
		if b["prune"] != true {
			t.Errorf("sync request %v: want prune as the automated policy sets it", b)
		}
	}
}

// rolloutFixture is a server following Applications of dev-a, with a webhook.
type rolloutFixture struct {
	st   *store.Store
	argo *fakeArgo
	hook *fakeHook
	base string
}

func newRolloutFixture(t *testing.T, tune func(*Options)) *rolloutFixture {
	t.Helper()
	st, _ := newStore(t)
	seed(t, st)
	f := &rolloutFixture{st: st, hook: newFakeHook(t)}
	f.argo = newFakeArgo(t,
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-namespaces", Cluster: "dev-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"},
		&argocdtest.App{Namespace: "argocd", Name: "dev-a-rbac", Cluster: "dev-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"},
	)
	opts := baseOptions(t, st)
	opts.ArgoCD = f.argo.options()
	opts.Webhook = f.hook.options()
	if tune != nil {
		tune(&opts)
	}
	_, f.base = runServer(t, opts)
	// At start, Applications already Synced and Healthy make their version the last known good.
	f.waitLastKnownGood(t, "dev-a", "g1.e1.c1")
	return f
}

func (f *rolloutFixture) waitLastKnownGood(t *testing.T, cluster, version string) {
	t.Helper()
	eventually(t, "last known good "+version, func() bool {
		lkg, err := f.st.LastKnownGood(testContext(t), cluster)
		return err == nil && lkg[cluster].Version.String() == version
	})
}

// rollTo makes the ApplicationSet controller and Argo CD move dev-a's Applications to version.
func (f *rolloutFixture) rollTo(version, sync, health string) {
	for _, name := range []string{"dev-a-namespaces", "dev-a-rbac"} {
		f.argo.update(name, func(a *argocdtest.App) {
			a.Pinned, a.Compared, a.Sync, a.Health = version, version, sync, health
		})
	}
}

func TestWebhookReportsPublishSyncAndDegraded(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t, nil)

	head := publish(t, f.st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-2"))
	ev := f.hook.wait(t, "the publish event", func(e event.Event) bool { return e.Type == event.Publish && e.Layer == "env/dev" })
	want := []event.Cluster{{Cluster: "dev-a", Environment: "dev", ConfigVersion: "g1.e2.c1"}, {Cluster: "dev-b", Environment: "dev", ConfigVersion: "g1.e2.c1"}}
	if ev.Version != 2 || ev.PreviousVersion != 1 || ev.TraceID != head.TraceID || ev.Actor != "tester" || !reflect.DeepEqual(ev.Clusters, want) {
		t.Errorf("publish event %+v, want env/dev 1→2, trace %s, clusters %v", ev, head.TraceID, want)
	}

	// The ApplicationSet gives the Applications the new version; Argo CD syncs it. Each state
	// is held until the Applications were listed twice more (so read at least once).
	f.argo.waitLists(t, 2)
	f.rollTo("g1.e2.c1", "OutOfSync", "Progressing")
	f.argo.waitLists(t, 2)
	f.rollTo("g1.e2.c1", "Synced", "Healthy")
	ev = f.hook.wait(t, "the synced event", func(e event.Event) bool { return e.Type == event.Synced && e.Cluster == "dev-a" })
	if ev.ConfigVersion != "g1.e2.c1" || ev.Layer != "env/dev" || ev.Version != 2 || ev.TraceID != head.TraceID || ev.ArgoCD == nil ||
		len(ev.ArgoCD.Applications) != 2 {
		t.Errorf("synced event %+v", ev)
	}
	// Synced is reported only for Applications synced and healthy at the new version — not
	// while they still pinned the old one, nor while they were syncing.
	for _, a := range ev.ArgoCD.Applications {
		if a.ConfigVersion != "g1.e2.c1" || a.Sync != "Synced" || a.Health != "Healthy" {
			t.Errorf("synced reported while Application %s was at %s, %s, %s", a.Name, a.ConfigVersion, a.Sync, a.Health)
		}
	}
	f.waitLastKnownGood(t, "dev-a", "g1.e2.c1")

	head = publish(t, f.st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-3"))
	f.rollTo("g1.e3.c1", "Synced", "Degraded")
	f.argo.update("dev-a-rbac", func(a *argocdtest.App) { a.Health, a.HealthMsg = "Healthy", "" })
	f.argo.update("dev-a-namespaces", func(a *argocdtest.App) { a.HealthMsg = "quota exceeded" })
	ev = f.hook.wait(t, "the degraded event", func(e event.Event) bool { return e.Type == event.Degraded && e.Cluster == "dev-a" })
	if ev.ConfigVersion != "g1.e3.c1" || ev.TraceID != head.TraceID || ev.Reason == "" || ev.ArgoCD == nil {
		t.Errorf("degraded event %+v", ev)
	}
	var degraded []string
	for _, a := range ev.ArgoCD.Applications {
		if a.Health == "Degraded" {
			degraded = append(degraded, a.Name)
		}
	}
	if !reflect.DeepEqual(degraded, []string{"dev-a-namespaces"}) {
		t.Errorf("degraded Applications %v", degraded)
	}

	// Not opted in to auto-rollback: the layer stays where it was published.
	heads, err := f.st.Heads(testContext(t), config.EnvLayer("dev"))
	if err != nil || heads[config.EnvLayer("dev")].Version != 3 {
		t.Errorf("env/dev head %+v, %v; want version 3 untouched", heads, err)
	}
	if _, ok := f.hook.find(func(e event.Event) bool { return e.Type == event.AutoRollback }); ok {
		t.Error("auto-rollback reported without opt-in")
	}
	// A failed sync on a new version is reported as such.
	publish(t, f.st, config.ClusterLayer("dev-a"), clusterEntry(t, fleet[0]), namespaceEntry(t, "apps"), namespaceEntry(t, "apps-2"))
	f.rollTo("g1.e3.c2", "OutOfSync", "Healthy")
	f.argo.update("dev-a-rbac", func(a *argocdtest.App) {
		a.OpPhase, a.OpMessage, a.OpStarted = "Failed", "one or more objects failed to apply", time.Now()
	})
	ev = f.hook.wait(t, "the sync-failed event", func(e event.Event) bool { return e.Type == event.SyncFailed && e.ConfigVersion == "g1.e3.c2" })
	if ev.Layer != "cluster/dev-a" || ev.Cluster != "dev-a" {
		t.Errorf("sync-failed event %+v", ev)
	}
}

func TestAutoRollbackWithinTheWindow(t *testing.T) {
	t.Parallel()
	optIn := func(o *Options) {
		o.AutoRollback = progress.AutoRollbackOptions{Layers: progress.LayerPatterns{"env/*"}, Window: time.Hour}
	}
	f := newRolloutFixture(t, optIn)
	// A second replica on the same table, Argo CD and webhook: the rollback happens once.
	opts2 := baseOptions(t, f.st)
	opts2.ArgoCD, opts2.Webhook, opts2.Replica = f.argo.options(), f.hook.options(), "replica-2"
	optIn(&opts2)
	runServer(t, opts2)

	bad := publish(t, f.st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "broken"))
	f.hook.wait(t, "the publish event", func(e event.Event) bool { return e.Type == event.Publish && e.Version == 2 })
	f.rollTo("g1.e2.c1", "Synced", "Degraded")

	ev := f.hook.wait(t, "the auto-rollback event", func(e event.Event) bool { return e.Type == event.AutoRollback })
	if ev.Layer != "env/dev" || ev.Version != 1 || ev.PreviousVersion != 2 || ev.Cluster != "dev-a" || ev.LastKnownGood != "g1.e1.c1" ||
		ev.Actor != progress.AutoRollbackActor || ev.TraceID == "" || ev.TraceID == bad.TraceID {
		t.Errorf("auto-rollback event %+v", ev)
	}
	ctx := testContext(t)
	heads, err := f.st.Heads(ctx, config.EnvLayer("dev"))
	if h := heads[config.EnvLayer("dev")]; err != nil || h.Version != 1 || h.Action != store.ActionRollback || h.Actor != progress.AutoRollbackActor {
		t.Fatalf("env/dev head %+v, %v; want rolled back to version 1 by %q", h, err, progress.AutoRollbackActor)
	}
	// The degraded state is reported too, before the rollback it caused (by the replica that
	// rolled back), and the watcher reports the rollback like any other.
	f.hook.wait(t, "the degraded event", func(e event.Event) bool { return e.Type == event.Degraded && e.ConfigVersion == "g1.e2.c1" })
	var order []string
	for _, e := range f.hook.events() {
		if e.Replica == ev.Replica && (e.Type == event.Degraded || e.Type == event.AutoRollback) {
			order = append(order, e.Type)
		}
	}
	if len(order) < 2 || order[0] != event.Degraded || order[1] != event.AutoRollback {
		t.Errorf("replica %s reported %v, want degraded before auto-rollback", ev.Replica, order)
	}
	rb := f.hook.wait(t, "the rollback event", func(e event.Event) bool { return e.Type == event.Rollback && e.Layer == "env/dev" })
	if rb.Version != 1 || rb.PreviousVersion != 2 || rb.Actor != progress.AutoRollbackActor {
		t.Errorf("rollback event %+v", rb)
	}
	if v := servedVersion(t, f.base, "dev-a"); v != "g1.e1.c1" {
		t.Errorf("the generator serves %s after the rollback, want g1.e1.c1", v)
	}

	// Once the Applications are back on the rolled-back version and healthy, that is reported.
	f.rollTo("g1.e1.c1", "Synced", "Healthy")
	f.hook.wait(t, "synced after the rollback", func(e event.Event) bool { return e.Type == event.Synced && e.ConfigVersion == "g1.e1.c1" })

	// Audited once, however many replicas saw the failure: checked once both replicas have
	// seen the rollback and the recovery after it.
	for _, replica := range []string{"test", "replica-2"} {
		f.hook.wait(t, replica+"'s rollback event", func(e event.Event) bool { return e.Type == event.Rollback && e.Replica == replica })
	}
	audit, err := f.st.Audit(ctx, config.EnvLayer("dev"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var rollbacks []store.AuditRecord
	for _, a := range audit {
		if a.Action == store.ActionRollback {
			rollbacks = append(rollbacks, a)
		}
	}
	if len(rollbacks) != 1 || rollbacks[0].Actor != progress.AutoRollbackActor || rollbacks[0].From != 2 || rollbacks[0].To != 1 || rollbacks[0].TraceID != ev.TraceID {
		t.Errorf("rollback audit records %+v, want one from 2 to 1 by %q traced %s", rollbacks, progress.AutoRollbackActor, ev.TraceID)
	}
	ids := map[string]bool{}
	for _, e := range f.hook.events() {
		if e.Type == event.AutoRollback {
			ids[e.ID] = true
		}
	}
	if len(ids) != 1 {
		t.Errorf("%d distinct auto-rollback events, want 1", len(ids))
	}
}

// serve usually starts with Argo CD: the ApplicationSet creates the Applications after serve
// took its baseline. Their version, once Synced and Healthy, is still the last known good, so
// a bad publish after that is rolled back.
func TestApplicationsCreatedAfterStartRecordTheLastKnownGood(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	argo, hook := newFakeArgo(t), newFakeHook(t)
	opts := baseOptions(t, st)
	opts.ArgoCD, opts.Webhook = argo.options(), hook.options()
	opts.AutoRollback = progress.AutoRollbackOptions{Layers: progress.LayerPatterns{"env/*"}, Window: time.Hour}
	runServer(t, opts)
	eventually(t, "Applications listed (none yet)", func() bool { argo.mu.Lock(); defer argo.mu.Unlock(); return argo.lists > 0 })

	argo.mu.Lock()
	for _, name := range []string{"dev-a-namespaces", "dev-a-rbac"} {
		argo.apps[name] = &argocdtest.App{Namespace: "argocd", Name: name, Cluster: "dev-a", Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"}
	}
	argo.mu.Unlock()
	f := &rolloutFixture{st: st, argo: argo, hook: hook}
	f.waitLastKnownGood(t, "dev-a", "g1.e1.c1")

	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "broken"))
	f.rollTo("g1.e2.c1", "Synced", "Degraded")
	hook.wait(t, "the auto-rollback event", func(e event.Event) bool { return e.Type == event.AutoRollback && e.Version == 1 })
}

func TestAutoRollbackOutsideTheWindowOrLayer(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t, func(o *Options) {
		o.AutoRollback = progress.AutoRollbackOptions{Layers: progress.LayerPatterns{"global", "env/dev"}, Window: time.Nanosecond}
	})
	publish(t, f.st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "broken"))
	f.rollTo("g1.e2.c1", "Synced", "Degraded")
	ev := f.hook.wait(t, "the skipped event", func(e event.Event) bool { return e.Type == event.AutoRollbackSkipped })
	if ev.Layer != "env/dev" || ev.Reason == "" {
		t.Errorf("skipped event %+v", ev)
	}
	f.hook.wait(t, "the degraded event", func(e event.Event) bool { return e.Type == event.Degraded })
	heads, _ := f.st.Heads(testContext(t), config.EnvLayer("dev"))
	if heads[config.EnvLayer("dev")].Version != 2 {
		t.Errorf("env/dev rolled back outside the window")
	}

	// A layer not opted in is never rolled back (cluster/dev-a is not in the list).
	publish(t, f.st, config.ClusterLayer("dev-a"), clusterEntry(t, fleet[0]), namespaceEntry(t, "apps"), namespaceEntry(t, "x"))
	f.rollTo("g1.e2.c2", "Synced", "Degraded")
	f.hook.wait(t, "the degraded event", func(e event.Event) bool { return e.Type == event.Degraded && e.ConfigVersion == "g1.e2.c2" })
	if _, ok := f.hook.find(func(e event.Event) bool {
		return e.Layer == "cluster/dev-a" && e.Type != event.Publish && e.Type != event.Degraded
	}); ok {
		t.Errorf("events about rolling back cluster/dev-a: %+v", f.hook.events())
	}
	heads, _ = f.st.Heads(testContext(t), config.ClusterLayer("dev-a"))
	if heads[config.ClusterLayer("dev-a")].Version != 2 {
		t.Errorf("cluster/dev-a rolled back without opt-in")
	}
}

func TestWebhookOutageDoesNotSlowTheGenerator(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	hook := newFakeHook(t)
	block := make(chan struct{})
	hook.block = block
	t.Cleanup(func() { close(block) })
	argo := newFakeArgo(t, &argocdtest.App{Namespace: "argocd", Name: "dev-a", Cluster: "dev-a", Sync: "Synced", Health: "Healthy"})
	argo.push(fault{delay: time.Hour}) // Argo CD hangs too
	opts := baseOptions(t, st)
	w := hook.options()
	w.HTTP.Timeout = time.Hour // the webhook's answer never comes
	opts.Webhook = w
	opts.ArgoCD = argo.options()
	opts.ArgoCD.HTTP.Timeout = time.Hour
	_, base := runServer(t, opts)

	for i := range 3 {
		publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "n"+string(rune('a'+i))))
	}
	eventually(t, "a webhook delivery hanging", func() bool { return hook.inflight.Load() > 0 })
	eventually(t, "the generator serving the new version", func() bool { return servedVersion(t, base, "dev-a") == "g1.e4.c1" })
	for range 50 {
		if code, data := getParams(t, base, testToken, request(map[string]any{"environment": "dev"})); code != http.StatusOK || len(paramSets(t, data)) != 2 {
			t.Fatalf("generator: %d %s", code, data)
		}
	}
	if hook.inflight.Load() == 0 {
		t.Fatal("the webhook delivery ended: the test did not hold it during the generator requests")
	}
	if len(hook.events()) != 0 {
		t.Fatal("events delivered while the webhook hung")
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	flaky := &flakyStore{Store: st}
	opts := baseOptions(t, flaky)
	_, base, ops := runServers(t, opts)
	get := func(path string) (int, string) {
		resp, err := http.Get(ops + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d %s", code, body)
	}
	getParams(t, base, "wrong", request(nil))
	servedVersion(t, base, "dev-a")
	_, metrics := get("/metrics")
	for _, want := range []string{
		`dynamo_cmp_serve_http_requests_total{code="401",path="/api/v1/getparams.execute"} 1`,
		`dynamo_cmp_serve_http_requests_total{code="200",path="/api/v1/getparams.execute"} 1`,
		`dynamo_cmp_serve_http_request_duration_seconds_bucket{path="/api/v1/getparams.execute"`,
		`dynamo_cmp_serve_registered_clusters 4`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Readiness follows DynamoDB (its verdict is reused for a few seconds).
	flaky.set(true)
	eventually(t, "/readyz failing", func() bool { code, _ := get("/readyz"); return code == http.StatusServiceUnavailable })
	flaky.set(false)
}

func TestStoreCallsAreMetered(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.ObserveCall("GetItem", time.Millisecond, 0.5, 0, nil)
	m.ObserveCall("Query", time.Millisecond, 2, 0, store.ErrThrottled)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`dynamo_cmp_serve_dynamodb_calls_total{op="GetItem",outcome="ok"} 1`,
		`dynamo_cmp_serve_dynamodb_calls_total{op="Query",outcome="throttled"} 1`,
		`dynamo_cmp_serve_dynamodb_consumed_capacity_units_total{kind="read"} 2.5`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	hook := newFakeHook(t)
	hook.push(fault{code: 503}, fault{code: 503}, fault{code: 503}, fault{code: 503}) // one whole round of retries fails
	opts := baseOptions(t, st)
	opts.Webhook = hook.options()
	opts.ShutdownDelay = 1500 * time.Millisecond
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, opsLn := listen(t), listen(t)
	base, ops := "http://"+ln.Addr().String(), "http://"+opsLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln, opsLn) }()
	servedVersion(t, base, "dev-a")
	publish(t, st, config.GlobalLayer, namespaceEntry(t, "g2"))
	eventually(t, "the publish event queued", func() bool { hook.mu.Lock(); defer hook.mu.Unlock(); return hook.attempts > 0 })

	cancel() // SIGTERM
	eventually(t, "/readyz failing while draining", func() bool {
		resp, err := http.Get(ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	// Requests are still served during the delay.
	if code, _ := getParams(t, base, testToken, request(nil)); code != http.StatusOK {
		t.Errorf("generator during the shutdown delay: %d", code)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(deadline):
		t.Fatal("Run did not return")
	}
	// The queued event was delivered before Run returned.
	if _, ok := hook.find(func(e event.Event) bool { return e.Type == event.Publish && e.Layer == "global" }); !ok {
		t.Errorf("the publish event was not delivered before the shutdown ended: %+v", hook.events())
	}
	if _, err := http.Get(ops + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}
}
