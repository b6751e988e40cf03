package progress

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func rolloutOf(t *testing.T, st *store.Store) rollout.Rollout {
	t.Helper()
	rs, err := st.Rollouts(testkit.Context(t))
	if err != nil || len(rs) != 1 {
		t.Fatalf("rollouts %+v %v, want one", rs, err)
	}
	return rs[0]
}

func outOfSync(app *argocdtest.App, _ config.ConfigVersion) { app.Sync = "OutOfSync" }

// TestDriftAfterTheTimeoutRestartsTheBake is issue 18's reproduction: --rollout-timeout 8 s,
// the canary Synced and Healthy within a second, then OutOfSync for 2.5 s once the timeout
// has passed. Drift is not failure: the bake starts again and the rollout completes.
func TestDriftAfterTheTimeoutRestartsTheBake(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	d := newTestDriverWith(t, st, fleet, clk, evs, "r1", func(o *DriverOptions) { o.WaveTimeout = 8 * time.Second })
	tick(t, d) // announces
	clk.Add(time.Second)
	tick(t, d) // the canary is Synced and Healthy: it settled in the wave, the bake starts
	if r := rolloutOf(t, st); r.BakeStartedAt.IsZero() || !r.HasSettled("dev-a") {
		t.Fatalf("rollout %+v, want the bake started and dev-a settled", r)
	}
	clk.Add(8 * time.Second) // 9 s after the wave started: past the timeout, inside the bake
	fleet.set("dev-a", outOfSync)
	tick(t, d)
	clk.Add(2500 * time.Millisecond)
	tick(t, d)
	if r := rolloutOf(t, st); r.State != rollout.Progressing || !r.BakeStartedAt.IsZero() {
		t.Fatalf("after 2.5 s of drift past the timeout: %s, bake started %v; want progressing with the bake to start again (reason %q)", r.State, r.BakeStartedAt, r.Reason)
	}
	fleet.set("dev-a", nil)
	tick(t, d) // Synced again: the bake starts again
	clk.Add(9 * time.Second)
	tick(t, d)
	if got := served(t, st); got != "dev-a=e2 dev-b=e1 dev-c=e1" {
		t.Fatalf("9 s into the restarted bake: %s, want wave 2 not started", got)
	}
	clk.Add(time.Second)
	tick(t, d) // the bake lasted 10 s: wave 2
	tick(t, d) // wave 2 has no bake: completed
	if r := rolloutOf(t, st); r.State != rollout.Completed {
		t.Fatalf("rollout %s (%s), want completed", r.State, r.Reason)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2", "rollout-wave-completed:2", "rollout-completed:2"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestTheTimeoutFailsAClusterThatNeverReachedTheWave: the timeout still bounds reaching
// Synced and Healthy; the cluster's rollout-timeout comes before the halt it causes.
func TestTheTimeoutFailsAClusterThatNeverReachedTheWave(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	d := newTestDriverWith(t, st, fleet, clk, evs, "r1", func(o *DriverOptions) { o.WaveTimeout = 8 * time.Second })
	fleet.set("dev-a", outOfSync)
	tick(t, d)
	clk.Add(7 * time.Second)
	tick(t, d)
	if r := rolloutOf(t, st); r.State != rollout.Progressing {
		t.Fatalf("inside the timeout: %s, want progressing", r.State)
	}
	clk.Add(2 * time.Second)
	tick(t, d)
	r := rolloutOf(t, st)
	if r.State != rollout.RolledBack || !strings.Contains(r.Reason, "dev-a") || !strings.Contains(r.Reason, "not Synced and Healthy within 8s") {
		t.Fatalf("rollout %s (%s), want rolled back naming dev-a and the timeout", r.State, r.Reason)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-timeout:1", "rollout-halted:1", "rollout-rolled-back:1"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// failingAttempt is the canary as Argo CD reports it when the first sync attempt of env/dev
// version 2 failed (an object the API server rejects) and the example's retry policy waits
// to retry it: the operation stays Running and keeps syncing version 2 after the spec moves.
func failingAttempt(start time.Time) func(app *argocdtest.App, served config.ConfigVersion) {
	return func(app *argocdtest.App, served config.ConfigVersion) {
		bad := served
		bad.Env = 2
		app.OpPhase, app.OpSource, app.OpRetries = "Running", bad.String(), 1
		app.OpStarted, app.OpFinished = start, start.Add(3*time.Second)
		app.OpMessage = "one or more objects failed to apply, reason: the server could not find the requested resource. Retrying attempt #1 at 10:00AM."
		app.OpResults = failedWidget
		if served.Env == 2 {
			app.Sync = "OutOfSync" // the Widget is missing; the quota was applied
		}
	}
}

// TestAFailedAttemptHaltsAtTheNextTick: the canary's failed attempt halts the rollout at the
// first reading that shows it, not when Argo CD has spent its retries; its sync-failed comes
// before the halt, once; and the operation that keeps retrying the bad version is ended so
// Argo CD syncs the stable version at once.
func TestAFailedAttemptHaltsAtTheNextTick(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	d := newTestDriver(t, st, fleet, clk, evs, "r1")
	tick(t, d) // announces
	fleet.set("dev-a", failingAttempt(clk.Now()))
	tick(t, d)
	r := rolloutOf(t, st)
	if r.State != rollout.RolledBack || !strings.Contains(r.Reason, "sync attempt failed (Argo CD retries it, retry 1): Widget monitoring/no-such-crd") {
		t.Fatalf("rollout %s (%s), want halted and rolled back on the failed attempt", r.State, r.Reason)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "sync-failed:1", "rollout-halted:1", "rollout-rolled-back:1"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := served(t, st); got != "dev-a=e1 dev-b=e1 dev-c=e1" {
		t.Errorf("after the halt: %s, want every cluster on e1", got)
	}
	// The ApplicationSet pins dev-a to e1 again; the operation still retries e2.
	tick(t, d)
	tick(t, d)
	if !slices.Equal(fleet.terminated, []string{"argocd/bootstrap-dev-a"}) {
		t.Errorf("operations ended %v, want dev-a's once (it retries the halted version)", fleet.terminated)
	}
}

// watcher plays serve's change watcher for a Tracker: every reading of the registry diffed
// against the previous one, the changes handed to the tracker.
type watcher struct {
	st   *store.Store
	tr   *Tracker
	prev *registry.Inventory
	clk  *clock
}

func (w *watcher) look(t *testing.T) {
	t.Helper()
	inv, err := registry.ReadInventory(testkit.Context(t), w.st)
	if err != nil {
		t.Fatal(err)
	}
	if w.prev == nil {
		w.tr.Baseline(inv)
	} else if changes := registry.Diff(w.prev, inv, w.clk.Now()); len(changes) > 0 {
		w.tr.Add(changes)
	}
	w.prev = inv
}

// TestEventsAroundAHaltComeInOneOrder: the tracker judges on the driver's reading, before
// its steps. The canary's failure is reported once, by the driver, before the halt; the
// tracker then reports the canary synced on what it is served again, naming env/dev version
// 1 (not the halted publish).
func TestEventsAroundAHaltComeInOneOrder(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	tr := New(Options{Store: st, Emit: evs.add, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)), PluginName: argocdtest.PluginName, Now: clk.Now, Metrics: NewMetrics(prometheus.NewRegistry(), "test")})
	d := newTestDriverWith(t, st, fleet, clk, evs, "r1", func(o *DriverOptions) { o.Tracker = tr })
	w := &watcher{st: st, tr: tr, clk: clk}
	w.look(t)
	fleet.set("dev-a", failingAttempt(clk.Now()))
	for range 4 {
		tick(t, d)
		w.look(t)
		clk.Add(time.Second)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "sync-failed:1", "rollout-halted:1", "rollout-rolled-back:1", "synced:dev-a"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	synced := evs.list[len(evs.list)-1]
	if synced.ConfigVersion != "g0.e1.c1" || synced.Layer != "env/dev" || synced.Version != 1 || synced.PreviousVersion != 2 || synced.Action != store.ActionRollback {
		t.Errorf("synced event: %s %s %s %d→%d, want env/dev moved back from 2 to 1 on g0.e1.c1", synced.ConfigVersion, synced.Layer, synced.Action, synced.PreviousVersion, synced.Version)
	}
}

// TestEmptyWavesAreSkippedAtOnce: a wave that matches no cluster completes when it starts,
// without its bake; its wave-started and wave-completed are still sent, in order.
func TestEmptyWavesAreSkippedAtOnce(t *testing.T) {
	t.Run("a middle wave", func(t *testing.T) {
		st, fleet, clk := rolloutFixtureWith(t, "name: default\nwaves:\n- {name: canary, namePattern: dev-a, bake: 10s}\n- {name: ghosts, namePattern: ghost-*, bake: 24h}\n- {name: rest}\n")
		evs := &events{}
		d := newTestDriver(t, st, fleet, clk, evs, "r1")
		tick(t, d)
		tick(t, d) // the bake of wave 1 starts
		clk.Add(10 * time.Second)
		tick(t, d) // wave 1 completes, wave 2 (empty) is skipped, wave 3 starts
		if got := served(t, st); got != "dev-a=e2 dev-b=e2 dev-c=e2" {
			t.Fatalf("after wave 1: %s, want wave 3 reached at once", got)
		}
		tick(t, d)
		r := rolloutOf(t, st)
		if r.State != rollout.Completed {
			t.Fatalf("rollout %s, want completed", r.State)
		}
		want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2", "rollout-wave-completed:2",
			"rollout-wave-started:3", "rollout-wave-completed:3", "rollout-completed:3"}
		if got := evs.types(); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		if ev := evs.list[4]; ev.Reason != rollout.SkippedReason {
			t.Errorf("wave 2's completion says %q, want %q", ev.Reason, rollout.SkippedReason)
		}
	})
	t.Run("the first wave", func(t *testing.T) {
		st, fleet, clk := rolloutFixtureWith(t, "name: default\nwaves:\n- {name: ghosts, namePattern: ghost-*, bake: 24h}\n- {name: rest, bake: 5s}\n")
		evs := &events{}
		d := newTestDriver(t, st, fleet, clk, evs, "r1")
		if got := served(t, st); got != "dev-a=e1 dev-b=e1 dev-c=e1" {
			t.Fatalf("after the publish: %s, want no cluster reached", got)
		}
		tick(t, d) // announces, and skips the empty first wave
		if got := served(t, st); got != "dev-a=e2 dev-b=e2 dev-c=e2" {
			t.Fatalf("after the first step: %s, want wave 2 reached", got)
		}
		want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2"}
		if got := evs.types(); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestApplicationsAreReadOftenWhileAChangeIsFollowed: outside a live rollout the Applications
// are read every ObserveInterval, but every Interval while the tracker follows a change, so
// `clusters status` shows a publish within the status interval, not up to 30 s later.
func TestApplicationsAreReadOftenWhileAChangeIsFollowed(t *testing.T) {
	st, fleet, clk := rolloutFixtureWith(t, twoWaves)
	tr := New(Options{Store: st, PluginName: argocdtest.PluginName, Now: clk.Now, Metrics: NewMetrics(prometheus.NewRegistry(), "test")})
	d := newTestDriverWith(t, st, fleet, clk, &events{}, "r1", func(o *DriverOptions) {
		o.Tracker, o.Interval, o.ObserveInterval = tr, 5*time.Second, 30*time.Second
	})
	if got := d.interval(0); got != 30*time.Second {
		t.Errorf("nothing followed, no rollout live: every %s, want 30s", got)
	}
	if got := d.interval(1); got != 5*time.Second {
		t.Errorf("a rollout live: every %s, want 5s", got)
	}
	w := &watcher{st: st, tr: tr, clk: clk}
	w.look(t) // follows every cluster at its version
	if got := d.interval(0); got != 5*time.Second {
		t.Errorf("following the clusters: every %s, want 5s", got)
	}
	tick(t, d) // all Synced and Healthy: nothing followed any more
	if got := d.interval(0); got != 30*time.Second {
		t.Errorf("the clusters settled: every %s, want 30s", got)
	}
}

// TestOnlyRetriesOfAVersionNoLongerServedAreEnded: an operation is ended only when it retries
// a failed attempt of a configVersion its Application no longer pins; a sync that merely
// runs, or retries the version pinned, is left to Argo CD.
func TestOnlyRetriesOfAVersionNoLongerServedAreEnded(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	d := newTestDriver(t, st, fleet, clk, &events{}, "r1")
	start := clk.Now()
	fleet.set("dev-b", func(app *argocdtest.App, served config.ConfigVersion) { // runs, no failed attempt, of e2
		old := served
		old.Env = 2
		app.OpPhase, app.OpSource, app.OpStarted = "Running", old.String(), start
	})
	fleet.set("dev-c", func(app *argocdtest.App, served config.ConfigVersion) { // retries the version pinned
		app.OpPhase, app.OpSource, app.OpRetries, app.OpStarted, app.OpFinished = "Running", served.String(), 1, start, start.Add(time.Second)
	})
	fleet.set("dev-a", func(app *argocdtest.App, served config.ConfigVersion) { // retries e1 while e2 is pinned
		old := served
		old.Env = 1
		app.OpPhase, app.OpSource, app.OpRetries, app.OpStarted, app.OpFinished = "Running", old.String(), 2, start, start.Add(time.Second)
	})
	for range 3 {
		tick(t, d)
	}
	if !slices.Equal(fleet.terminated, []string{"argocd/bootstrap-dev-a"}) {
		t.Errorf("operations ended %v, want only dev-a's, once", fleet.terminated)
	}
}
