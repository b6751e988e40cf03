package progress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// fakeFleet plays the ApplicationSet and application controllers: each cluster has one
// Application pinned to the configVersion the generator serves it, Synced and Healthy on it
// unless the cluster is marked bad for the layer version it is served.
type fakeFleet struct {
	t   *testing.T
	st  *store.Store
	mu  sync.Mutex
	bad map[string]int // cluster → env layer version it degrades on
	// edit changes a cluster's Application as Argo CD reports it, by cluster.
	edit       map[string]func(app *argocdtest.App, served config.ConfigVersion)
	terminated []string // the Applications whose operation the driver ended
}

func (f *fakeFleet) set(cluster string, edit func(app *argocdtest.App, served config.ConfigVersion)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if edit == nil {
		delete(f.edit, cluster)
		return
	}
	f.edit[cluster] = edit
}

func (f *fakeFleet) TerminateOperation(_ context.Context, app *argocd.Application) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.terminated = append(f.terminated, string(app.Key()))
	return nil
}

func (f *fakeFleet) ListApplications(ctx context.Context) ([]argocd.Application, error) {
	reg, err := f.st.RegistryState(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []argocd.Application
	for _, c := range registry.InventoryOf(reg).Clusters {
		v := c.Served.String()
		app := argocdtest.App{Namespace: "argocd", Name: "bootstrap-" + c.Name, Cluster: c.Name, Pinned: v, Compared: v, Sync: "Synced", Health: "Healthy"}
		if bad, ok := f.bad[c.Name]; ok && bad == c.Served.Env {
			app.Health, app.HealthMsg = "Degraded", "the quota controller refuses it"
		}
		if edit := f.edit[c.Name]; edit != nil {
			edit(&app, c.Served)
		}
		out = append(out, *app.Application(f.t))
	}
	return out, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) String() string      { return c.Now().Format(time.RFC3339) }
func (e *events) add(ev event.Event) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }
func (e *events) types() []string    { e.mu.Lock(); defer e.mu.Unlock(); return typesOf(e.list) }
func typesOf(evs []event.Event) []string {
	out := []string{}
	for _, ev := range evs {
		if ev.Rollout == nil { // the tracker's events about one cluster
			out = append(out, fmt.Sprintf("%s:%s", ev.Type, ev.Cluster))
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d", ev.Type, ev.Rollout.Wave))
	}
	return out
}

type events struct {
	mu   sync.Mutex
	list []event.Event
}

// twoWaves is the default strategy of rolloutFixture: dev-a first, bake 10 s; then the rest.
const twoWaves = "name: default\nwaves:\n- name: canary\n  namePattern: dev-a\n  bake: 10s\n- name: rest\n"

// rolloutFixture is env/dev with three clusters at v1, a two-wave default strategy (dev-a
// first, bake 10 s; then the rest), and env/dev v2 published through it.
func rolloutFixture(t *testing.T) (*store.Store, *fakeFleet, *clock) {
	t.Helper()
	st, fleet, clk := rolloutFixtureWith(t, twoWaves)
	rs, err := st.Rollouts(testkit.Context(t))
	if err != nil || len(rs) != 1 || !slices.Equal(rs[0].Waves[0].Clusters, []string{"dev-a"}) {
		t.Fatalf("the publish planned %+v (%v), want the default strategy with dev-a first", rs, err)
	}
	return st, fleet, clk
}

// rolloutFixtureWith is env/dev with three clusters (dev-a, dev-b, dev-c) at v1, the default
// strategy given, and env/dev v2 published through it.
func rolloutFixtureWith(t *testing.T, strategy string) (*store.Store, *fakeFleet, *clock) {
	t.Helper()
	st, _ := dynamolocal.NewStore(t)
	ctx := testkit.Context(t)
	pub := func(ref config.LayerRef, entries ...config.Entry) *ops.PublishResult {
		t.Helper()
		res, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: ref, Entries: entries, Actor: "alice", Message: "test"})
		if err != nil {
			t.Fatalf("publish %s: %v", ref, err)
		}
		return res
	}
	ns := func(name string) config.Entry {
		return testkit.Entry(t, config.KindNamespace, map[string]any{"namespace": name})
	}
	pub(config.EnvLayer("dev"), ns("tools-v1"))
	for _, c := range []string{"dev-c", "dev-a", "dev-b"} {
		pub(config.ClusterLayer(c), testkit.Entry(t, config.KindCluster, map[string]any{"name": c, "environment": "dev", "region": "eu-west-1"}))
	}
	s, err := rollout.ParseStrategy([]byte(strategy))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutStrategy(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	if res := pub(config.EnvLayer("dev"), ns("tools-v2")); res.Rollout == nil || res.Rollout.Strategy != "default" {
		t.Fatalf("the publish planned %+v, want a rollout with the default strategy", res.Rollout)
	}
	return st, &fakeFleet{t: t, st: st, bad: map[string]int{}, edit: map[string]func(*argocdtest.App, config.ConfigVersion){}}, &clock{t: time.Now().UTC()}
}

func served(t *testing.T, st *store.Store) string {
	t.Helper()
	reg, err := st.RegistryState(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range registry.InventoryOf(reg).Clusters {
		parts = append(parts, fmt.Sprintf("%s=e%d", c.Name, c.Served.Env))
	}
	return strings.Join(parts, " ")
}

func newTestDriver(t *testing.T, st *store.Store, fleet *fakeFleet, clk *clock, evs *events, replica string) *Driver {
	return newTestDriverWith(t, st, fleet, clk, evs, replica, nil)
}

func newTestDriverWith(t *testing.T, st *store.Store, fleet *fakeFleet, clk *clock, evs *events, replica string, tune func(*DriverOptions)) *Driver {
	o := DriverOptions{ArgoCD: fleet, Store: st, Emit: evs.add, PluginName: argocdtest.PluginName,
		WaveTimeout: time.Hour, StoreTimeout: 10 * time.Second, Replica: replica, Now: clk.Now}
	if tune != nil {
		tune(&o)
	}
	return NewDriver(o)
}

func tick(t *testing.T, d *Driver) {
	t.Helper()
	if _, err := d.Tick(testkit.Context(t)); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

func TestDriverRollsOutWaveByWaveAfterTheBake(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	d := newTestDriver(t, st, fleet, clk, evs, "r1")
	if got := served(t, st); got != "dev-a=e2 dev-b=e1 dev-c=e1" {
		t.Fatalf("after the publish: %s, want only the canary on e2", got)
	}
	tick(t, d) // announces
	tick(t, d) // the canary is Synced and Healthy: the bake starts
	clk.Add(9 * time.Second)
	tick(t, d)
	if got := served(t, st); got != "dev-a=e2 dev-b=e1 dev-c=e1" {
		t.Fatalf("inside the bake: %s, want wave 2 not started", got)
	}
	clk.Add(2 * time.Second)
	tick(t, d)
	if got := served(t, st); got != "dev-a=e2 dev-b=e2 dev-c=e2" {
		t.Fatalf("after the bake: %s, want every cluster on e2", got)
	}
	tick(t, d) // the last wave has no bake: completed
	rs, err := st.Rollouts(testkit.Context(t))
	if err != nil || len(rs) != 1 || rs[0].State != rollout.Completed {
		t.Fatalf("rollouts %+v %v, want one completed", rs, err)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2", "rollout-wave-completed:2", "rollout-completed:2"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := served(t, st); got != "dev-a=e2 dev-b=e2 dev-c=e2" {
		t.Errorf("completed: %s", got)
	}
}

func TestDriverHaltsABadWaveAndRollsTheHeadBack(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	fleet.bad["dev-a"] = 2
	evs := &events{}
	d := newTestDriver(t, st, fleet, clk, evs, "r1")
	for range 4 {
		tick(t, d)
		if s := served(t, st); strings.Contains(s, "dev-b=e2") || strings.Contains(s, "dev-c=e2") {
			t.Fatalf("wave 2 was served the bad version: %s", s)
		}
		clk.Add(time.Second)
	}
	if got := served(t, st); got != "dev-a=e1 dev-b=e1 dev-c=e1" {
		t.Fatalf("after the halt: %s, want every cluster back on e1", got)
	}
	heads, err := st.Heads(testkit.Context(t), config.EnvLayer("dev"))
	if err != nil {
		t.Fatal(err)
	}
	if h := heads[config.EnvLayer("dev")]; h.Version != 1 || h.Action != store.ActionRollback || h.Actor != DriverActor {
		t.Errorf("head %+v, want rolled back to 1 by the driver", h)
	}
	rs, _ := st.Rollouts(testkit.Context(t))
	if len(rs) != 1 || rs[0].State != rollout.RolledBack || !strings.Contains(rs[0].Reason, "dev-a") || !strings.Contains(rs[0].Reason, "Degraded") {
		t.Errorf("rollout %+v, want rolled back naming dev-a and Degraded", rs)
	}
	// The canary's failure is reported once, before the halt it caused.
	want := []string{"rollout-started:1", "rollout-wave-started:1", "degraded:1", "rollout-halted:1", "rollout-rolled-back:1"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if ev := evs.list[2]; ev.Cluster != "dev-a" || ev.ConfigVersion != "g0.e2.c1" || ev.Version != 2 || !strings.Contains(ev.Reason, "the quota controller refuses it") {
		t.Errorf("degraded event %+v, want dev-a on g0.e2.c1 (env/dev version 2) with Argo CD's message", ev)
	}
}

func TestTwoDriversNeverTakeAStepTwice(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	evs := &events{}
	drivers := []*Driver{newTestDriver(t, st, fleet, clk, evs, "r1"), newTestDriver(t, st, fleet, clk, evs, "r2")}
	for range 8 {
		var wg sync.WaitGroup
		for _, d := range drivers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = d.Tick(context.Background())
			}()
		}
		wg.Wait()
		clk.Add(6 * time.Second)
	}
	rs, err := st.Rollouts(testkit.Context(t))
	if err != nil || len(rs) != 1 || rs[0].State != rollout.Completed {
		t.Fatalf("rollouts %+v %v, want one completed", rs, err)
	}
	var steps []string
	for _, s := range rs[0].Log {
		steps = append(steps, fmt.Sprintf("%s:%d", s.Event, s.Wave+1))
	}
	if want := []string{"started:1", "wave-completed:1", "wave-started:2", "wave-completed:2", "completed:2"}; !slices.Equal(steps, want) {
		t.Errorf("rollout log %v, want every step once: %v", steps, want)
	}
	want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2", "rollout-wave-completed:2", "rollout-completed:2"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events of both replicas %v, want each once: %v", got, want)
	}
}

// TestDriverDecidesNothingOnAnAnswerOverTheLimit: while Argo CD's list answer is longer than
// the limit, a tick fails with an error naming the limit and takes no step and sends no event
// (the canary is Degraded: a cut list must neither halt nor pass the wave); once the answer
// fits, the same fleet is judged.
func TestDriverDecidesNothingOnAnAnswerOverTheLimit(t *testing.T) {
	st, fleet, clk := rolloutFixture(t)
	fleet.bad["dev-a"] = 2
	const limit = 1 << 20
	var pad atomic.Int64
	pad.Store(2 * limit)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apps, err := fleet.ListApplications(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, _ := json.Marshal(map[string]any{"items": apps})
		_, _ = w.Write(append(body, bytes.Repeat([]byte(" "), int(pad.Load()))...))
	}))
	defer srv.Close()
	c, err := argocd.New(argocd.Options{URL: srv.URL, AllowInsecureHTTP: true, Token: secret.Static("tok"), MaxListBytes: limit,
		HTTP: outbound.HTTPOptions{Timeout: 5 * time.Second}}, outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := argocd.NewReader(argocd.ReaderOptions{List: c.List, PluginName: argocdtest.PluginName, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	evs := &events{}
	d := newTestDriverWith(t, st, fleet, clk, evs, "r1", func(o *DriverOptions) { o.Reader = rd })
	for range 3 {
		_, err := d.Tick(testkit.Context(t))
		if err == nil || !strings.Contains(err.Error(), "larger than the limit of 1 MiB") {
			t.Fatalf("tick: %v, want the answer refused, naming the limit", err)
		}
		clk.Add(time.Second)
	}
	if got := evs.types(); len(got) != 0 {
		t.Errorf("events %v on a refused answer, want none", got)
	}
	if rs, _ := st.Rollouts(testkit.Context(t)); len(rs) != 1 || rs[0].Rev != 1 || rs[0].Announced {
		t.Errorf("rollout %+v, want untouched since the publish (revision 1)", rs)
	}
	pad.Store(0)
	for range 3 {
		tick(t, d)
		clk.Add(time.Second)
	}
	if want := []string{"rollout-started:1", "rollout-wave-started:1", "degraded:1", "rollout-halted:1", "rollout-rolled-back:1"}; !slices.Equal(evs.types(), want) {
		t.Errorf("events %v once the answer fits, want %v", evs.types(), want)
	}
}

// A cluster that passes through OutOfSync within one reading, as every cluster does while it
// syncs a new version, is not recorded (`clusters status` goes from one synced version to the
// next: one write per cluster and change, not two); a state that lasts two readings is.
func TestDriverRecordsWhatLastsNotTheMomentOfASync(t *testing.T) {
	st, calls := dynamolocal.NewStore(t)
	ctx := testkit.Context(t)
	if _, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: config.EnvLayer("dev"), Actor: "alice", Message: "test",
		Entries: []config.Entry{testkit.Entry(t, config.KindNamespace, map[string]any{"namespace": "tools"})}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dev-a", "dev-b"} {
		if _, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: config.ClusterLayer(c), Actor: "alice", Message: "test",
			Entries: []config.Entry{testkit.Entry(t, config.KindCluster, map[string]any{"name": c, "environment": "dev", "region": "eu-west-1"})}}); err != nil {
			t.Fatal(err)
		}
	}
	fleet := &fakeFleet{t: t, st: st, bad: map[string]int{}, edit: map[string]func(*argocdtest.App, config.ConfigVersion){}}
	clk := &clock{t: time.Now().UTC()}
	d := newTestDriver(t, st, fleet, clk, &events{}, "r1")
	reading := func(wantSync string, wantPuts int) {
		t.Helper()
		clk.Add(5 * time.Second)
		before := calls.Calls("PutItem")
		tick(t, d)
		obs, err := st.Observations(ctx, "dev-a")
		if err != nil {
			t.Fatal(err)
		}
		if got := obs["dev-a"].Sync; got != wantSync {
			t.Errorf("clusters status shows dev-a %s, want %s", got, wantSync)
		}
		if got := calls.Calls("PutItem") - before; got != wantPuts {
			t.Errorf("%d observation writes at this reading, want %d", got, wantPuts)
		}
	}
	reading("Synced", 2) // the first reading records every cluster
	outOfSync := func(app *argocdtest.App, _ config.ConfigVersion) { app.Sync = "OutOfSync" }
	fleet.set("dev-a", outOfSync)
	reading("Synced", 0) // syncing for a moment: not recorded
	fleet.set("dev-a", nil)
	reading("Synced", 0) // back where it was
	fleet.set("dev-a", outOfSync)
	reading("Synced", 0)
	reading("OutOfSync", 1) // it lasts: recorded
	fleet.set("dev-a", nil)
	reading("Synced", 1) // settled again: recorded at once
}
