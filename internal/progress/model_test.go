package progress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"pgregory.net/rapid"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// modelDefaults are the rapid settings of the bounded run of `go test`: a fixed seed, so
// make test explores the same sequences every time. A flag given on the command line, or a
// RAPID_* variable (rapid reads them as the flags' defaults), wins.
var modelDefaults = []struct{ flag, builtin, value string }{
	{"rapid.checks", "100", "30"},
	{"rapid.steps", "30", "40"},
	{"rapid.seed", "0", "20261207"},
	{"rapid.shrinktime", "30s", "90s"},
}

func setModelDefaults(t *testing.T) {
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, d := range modelDefaults {
		f := flag.Lookup(d.flag)
		if f == nil {
			t.Fatalf("rapid has no flag -%s", d.flag)
		}
		if given[d.flag] || f.DefValue != d.builtin {
			continue
		}
		if err := f.Value.Set(d.value); err != nil {
			t.Fatal(err)
		}
	}
}

// TestModel is the model-based test of rollouts in waves (issue 18 §6). It drives random
// sequences of operations against the real store on DynamoDB Local — publishes of every
// layer kind (staged by a strategy, all at once, first versions, cluster registrations and
// moves between environments), rollbacks, strategy put and delete, what Argo CD reports of
// each cluster, ticks of two driver replicas (one after the other, or at once) on a clock the
// test moves, and the operator's pause, resume, promote and abort — and checks after every
// step the invariants listed at the top of model_check_test.go. rapid shrinks a failing
// sequence to the shortest one it finds and prints it (each action, what it drew and what it
// did) with the -rapid.seed (and -rapid.failfile) that reproduce it.
//
// `go test` (make test) runs a bounded exploration from a fixed seed (modelDefaults); make
// fuzz-model a long one from a random seed. A rapid flag given on the command line (or a
// RAPID_* variable) wins over the defaults.
func TestModel(t *testing.T) {
	setModelDefaults(t)
	endpoint := dynamolocal.Start(t)
	stats := &modelStats{steps: map[string]int{}}
	rapid.Check(t, func(rt *rapid.T) {
		m, done := newModel(t, rt, endpoint)
		defer done()
		m.stats = stats
		rt.Repeat(m.actions())
	})
	t.Logf("explored (shrinking included): %s", stats)
}

// modelStats count what the sequences reached, to tell that the exploration gets where the
// invariants matter (go test -v shows them).
type modelStats struct {
	publishes, refused, staged, firstStaged, rollbacks, operator, generates int
	failedSeen, driftSeen                                                   int
	// steps counts the rollout steps the drivers took, by log event.
	steps map[string]int
}

func (s *modelStats) String() string {
	return fmt.Sprintf("%d publishes and rollbacks (%d refused), %d rollouts started (%d of a first version), driver steps %v, "+
		"%d waves judged with a failed cluster, %d with a drifting one, %d operator actions, %d generate runs",
		s.publishes+s.rollbacks, s.refused, s.staged, s.firstStaged, s.steps, s.failedSeen, s.driftSeen, s.operator, s.generates)
}

// The world of the model.
var (
	modelEnvs       = []string{"dev", "prod"}
	modelClusters   = []string{"alpha", "bravo", "charlie", "delta"}
	modelNamespaces = []string{"web", "data", "jobs"}
	modelCPUs       = []string{"1", "2", "4"}
	modelStart      = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	// tickAdvances are how far the clock moves before a tick: whole seconds, so that with
	// modelWaveTimeout's half second "past the timeout" is never a tie.
	tickAdvances = []time.Duration{0, time.Second, 4 * time.Second, 9 * time.Second, 16 * time.Second}
	// modelStrategies are the strategies the model stores (rollout strategy put replaces
	// one of the same name).
	modelStrategies = []string{
		"name: default\nwaves:\n- {name: canary, namePattern: 'a*', bake: 5s}\n- {name: rest, bake: 10s}\n",
		"name: default\nwaves:\n- {name: half, percent: 50, bake: 10s, maxFailures: 1}\n- {name: rest}\n",
		"name: envs\nlayers: ['env/*']\nwaves:\n- {name: gold, labelSelector: tier=gold, bake: 5s}\n- {name: dev, environment: dev, bake: 5s}\n- {name: rest, maxFailures: 1}\n",
		"name: global\nlayers: [global]\nwaves:\n- {name: first, namePattern: 'c*', bake: 10s}\n- {name: rest, bake: 5s}\n",
		"name: wide\nlayers: ['*']\nwaves:\n- {name: all, bake: 5s}\n",
	}
	modelStrategyNames = []string{"default", "envs", "global", "wide"}
)

const (
	modelWaveTimeout = 20*time.Second + 500*time.Millisecond
	modelActor       = "model"
	// modelGeneratorToken is the plugin generator's token (serve refuses one under 32 bytes).
	modelGeneratorToken = "model-generator-token-of-32-bytes"
	modelOperator       = "operator"
)

// combo is a configVersion served (or servable) to a cluster.
type combo struct {
	cluster string
	cv      config.ConfigVersion
}

func (c combo) String() string { return c.cluster + " " + c.cv.String() }

// model is one sequence: its table, its drivers and what it knows of them.
type model struct {
	ctx     context.Context
	st      *store.Store
	timed   clockedStore
	env     cli.Env
	clock   *modelClock
	fleet   *modelFleet
	drivers []*progress.Driver
	events  *eventLog
	gen     *generator.Handler

	// argo is what Argo CD reports of each cluster (absent: Synced and Healthy).
	argo map[string]argoState
	// ours are the trace ids of the head moves the model made itself (publish, rollback).
	ours map[string]bool
	// heads are the layer heads as the last check read them; served what each cluster was
	// served then, previous what it was served before that.
	heads    map[config.LayerRef]store.Head
	served   map[string]config.ConfigVersion
	previous map[string]config.ConfigVersion
	// validated holds every configVersion a successful publish or rollback validated (it
	// could be served after it), with what validated it.
	validated map[combo]string
	// published is the highest version published of each layer.
	published map[config.LayerRef]int
	// watches follow the rollouts the drivers judge, by rollout id; rollouts the last read
	// of each (for the events).
	watches  map[string]*watch
	rollouts map[string]rollout.Rollout
	stats    *modelStats

	layers    map[store.Pin]config.Layer
	renders   map[combo]error
	generated map[string]bool
}

func newModel(t *testing.T, rt *rapid.T, endpoint string) (*model, func()) {
	cfg := dynamolocal.NewTable(t, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	st, err := store.New(ctx, cfg)
	if err != nil {
		cancel()
		rt.Fatalf("store: %v", err)
	}
	clock := &modelClock{t: modelStart}
	m := &model{
		ctx: ctx, st: st, timed: clockedStore{st, clock}, clock: clock, fleet: &modelFleet{}, events: &eventLog{},
		env: cli.Env{
			"AWS_ENDPOINT_URL_DYNAMODB": cfg.Endpoint, "AWS_REGION": cfg.Region, "DYNAMO_CMP_TABLE": cfg.Table,
			"AWS_ACCESS_KEY_ID": cfg.StaticCredentials.AccessKeyID, "AWS_SECRET_ACCESS_KEY": cfg.StaticCredentials.SecretAccessKey,
		},
		argo: map[string]argoState{}, ours: map[string]bool{}, heads: map[config.LayerRef]store.Head{},
		served: map[string]config.ConfigVersion{}, previous: map[string]config.ConfigVersion{},
		validated: map[combo]string{}, published: map[config.LayerRef]int{}, watches: map[string]*watch{},
		rollouts: map[string]rollout.Rollout{}, layers: map[store.Pin]config.Layer{}, renders: map[combo]error{}, generated: map[string]bool{},
		stats: &modelStats{steps: map[string]int{}},
	}
	cache := registry.NewCache(registry.CacheOptions{Store: st, Timeout: 10 * time.Second, Now: clock.Now})
	m.gen = &generator.Handler{Token: secret.Static(modelGeneratorToken), Cache: cache, Log: slog.New(slog.DiscardHandler),
		Metrics: generator.NewMetrics(prometheus.NewRegistry(), "model"), Now: clock.Now}
	for _, replica := range []string{"r1", "r2"} {
		m.drivers = append(m.drivers, progress.NewDriver(progress.DriverOptions{
			ArgoCD: m.fleet, Store: st, Emit: m.events.add, PluginName: argocdtest.PluginName,
			WaveTimeout: modelWaveTimeout, StoreTimeout: 10 * time.Second, Replica: replica, Now: clock.Now,
		}))
	}
	// Three clusters to start with, two in dev, one in prod; delta comes with an action.
	for _, c := range []struct{ name, env, tier string }{{"alpha", "dev", "gold"}, {"bravo", "dev", "silver"}, {"charlie", "prod", "gold"}} {
		m.publish(rt, fmt.Sprintf("register cluster/%s {environment: %s, tier: %s}", c.name, c.env, c.tier), ops.PublishRequest{Ref: config.ClusterLayer(c.name), Entries: []config.Entry{
			recordEntry(rt, c.name, c.env, c.tier), namespaceEntry(rt, "own-"+c.name, "1"),
		}})
	}
	return m, cancel
}

// clockedStore is the store as ops.Publish sees it, with the rollout a publish starts
// stamped by the model's clock instead of the wall clock (ops.Publish plans it with
// time.Now(), and the drivers judge its wave start and bake on the model's clock).
type clockedStore struct {
	*store.Store
	clock *modelClock
}

func (s clockedStore) Publish(ctx context.Context, in store.PublishInput) (store.Head, error) {
	if in.Rollout != nil {
		r := in.Rollout.Clone()
		now := s.clock.Now()
		r.StartedAt, r.WaveStartedAt, r.UpdatedAt = now, now, now
		for i := range r.Log {
			r.Log[i].At = now
		}
		in.Rollout = &r
	}
	return s.Store.Publish(ctx, in)
}

func (m *model) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"":               m.check,
		"PublishGlobal":  func(t *rapid.T) { m.publishShared(t, config.GlobalLayer) },
		"PublishEnv":     func(t *rapid.T) { m.publishShared(t, config.EnvLayer(rapid.SampledFrom(modelEnvs).Draw(t, "env"))) },
		"PublishCluster": m.publishCluster,
		"Rollback":       m.rollback,
		"Strategy":       m.strategy,
		"ArgoCD":         m.setArgo,
		"ArgoCDFleet":    m.setFleet,
		"TickReplica1":   func(t *rapid.T) { m.ticks(t, 0) },
		"TickReplica2":   func(t *rapid.T) { m.ticks(t, 1) },
		"TickBothAtOnce": func(t *rapid.T) { m.ticks(t, 0, 1) },
		"OperatorAction": m.operate,
	}
}

// Entries. Every cluster renders at least its own namespace; patches target a namespace
// another layer may or may not add, so some publishes break a cluster and are refused.

func mustEntry(t *rapid.T, kind string, body map[string]any) config.Entry {
	e, err := config.NewEntry(kind, body)
	if err != nil {
		t.Fatalf("entry %s: %v", kind, err)
	}
	return e
}

func namespaceEntry(t *rapid.T, name, cpu string) config.Entry {
	return mustEntry(t, config.KindNamespace, map[string]any{"namespace": name, "resourceQuota": map[string]any{"cpu": cpu, "memory": "1Gi"}})
}

func patchEntry(t *rapid.T, namespace string) config.Entry {
	return mustEntry(t, config.KindPatch, map[string]any{"name": "label-" + namespace,
		"target":         map[string]any{"kind": "Namespace", "name": namespace},
		"strategicMerge": map[string]any{"metadata": map[string]any{"labels": map[string]any{"patched": "yes"}}}})
}

func recordEntry(t *rapid.T, name, env, tier string) config.Entry {
	return mustEntry(t, config.KindCluster, map[string]any{"name": name, "environment": env, "region": "eu-west-1", "projects": []any{"platform"}, "labels": map[string]any{"tier": tier}})
}

// drawShared draws the entries of a global or environment layer version: some of the
// shared namespaces, maybe a patch of one of them.
func drawShared(t *rapid.T, ref config.LayerRef) ([]config.Entry, string) {
	var entries []config.Entry
	var desc []string
	if ref == config.GlobalLayer {
		entries = append(entries, namespaceEntry(t, "platform", "1"))
		desc = append(desc, "platform")
	}
	for _, ns := range modelNamespaces {
		if rapid.Bool().Draw(t, "namespace "+ns) {
			cpu := rapid.SampledFrom(modelCPUs).Draw(t, "cpu")
			entries = append(entries, namespaceEntry(t, ns, cpu))
			desc = append(desc, ns+"(cpu "+cpu+")")
		}
	}
	if rapid.IntRange(0, 2).Draw(t, "patch") == 2 {
		ns := rapid.SampledFrom(modelNamespaces).Draw(t, "patched namespace")
		entries = append(entries, patchEntry(t, ns))
		desc = append(desc, "patch of namespace "+ns)
	}
	if len(entries) == 0 {
		entries = append(entries, namespaceEntry(t, "web", "1"))
		desc = append(desc, "web(cpu 1)")
	}
	return entries, "[" + strings.Join(desc, ", ") + "]"
}

func (m *model) publishShared(t *rapid.T, ref config.LayerRef) {
	entries, desc := drawShared(t, ref)
	req := ops.PublishRequest{Ref: ref, Entries: entries}
	how := "its strategy"
	switch rapid.IntRange(0, 3).Draw(t, "how") {
	case 2:
		req.AllAtOnce, how = true, "--all-at-once"
	case 3:
		req.Strategy = rapid.SampledFrom(modelStrategyNames).Draw(t, "strategy")
		how = "--strategy " + req.Strategy
	}
	m.publish(t, fmt.Sprintf("publish %s %s with %s", ref, desc, how), req)
}

// publishCluster registers a cluster, changes its layer, or moves it to another environment.
func (m *model) publishCluster(t *rapid.T) {
	name := rapid.SampledFrom(modelClusters).Draw(t, "cluster")
	env := rapid.SampledFrom(modelEnvs).Draw(t, "environment")
	tier := rapid.SampledFrom([]string{"gold", "silver"}).Draw(t, "tier")
	entries := []config.Entry{recordEntry(t, name, env, tier), namespaceEntry(t, "own-"+name, rapid.SampledFrom(modelCPUs).Draw(t, "cpu"))}
	desc := fmt.Sprintf("{environment: %s, tier: %s}", env, tier)
	if rapid.IntRange(0, 2).Draw(t, "patch") == 2 {
		ns := rapid.SampledFrom(modelNamespaces).Draw(t, "patched namespace")
		entries = append(entries, patchEntry(t, ns))
		desc += " + patch of namespace " + ns
	}
	m.publish(t, fmt.Sprintf("publish cluster/%s %s", name, desc), ops.PublishRequest{Ref: config.ClusterLayer(name), Entries: entries})
}

// publish runs ops.Publish (as config publish does) and records what it validated.
func (m *model) publish(t *rapid.T, what string, req ops.PublishRequest) {
	req.Actor, req.Message, req.TraceID = modelActor, what, traceid.New()
	res, err := ops.Publish(m.ctx, m.timed, req)
	var refused *ops.RefusedError
	var strategy *ops.StrategyError
	switch {
	case err == nil && res.Version == 0:
		t.Logf("%s: no change", what)
	case err == nil:
		m.ours[req.TraceID] = true
		m.published[req.Ref] = max(m.published[req.Ref], res.Version)
		m.stats.publishes++
		if res.Rollout != nil {
			m.stats.staged++
			if res.Rollout.Stable == 0 {
				m.stats.firstStaged++
			}
		}
		t.Logf("%s: version %d%s", what, res.Version, describeRollout(res.Rollout))
		m.validatedBy(t, req.Ref, fmt.Sprintf("%s (version %d)", what, res.Version))
	case errors.As(err, &refused):
		m.stats.refused++
		t.Logf("%s: %s", what, oneLine(err))
	case errors.As(err, &strategy):
		t.Logf("%s: refused: %v", what, err)
	default:
		t.Fatalf("%s: %v", what, err)
	}
}

func describeRollout(r *rollout.Rollout) string {
	if r == nil {
		return ", all at once"
	}
	var waves []string
	for _, w := range r.Waves {
		waves = append(waves, fmt.Sprintf("%s%v bake %s maxFailures %d", w.Name, w.Clusters, w.Bake, w.MaxFailures))
	}
	return fmt.Sprintf(", rollout by strategy %s from stable version %d: %s", r.Strategy, r.Stable, strings.Join(waves, "; "))
}

func (m *model) rollback(t *rapid.T) {
	var refs []config.LayerRef
	for ref, v := range m.published {
		if v >= 2 {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		t.Skip("no layer has two versions")
	}
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	ref := rapid.SampledFrom(refs).Draw(t, "layer")
	to := rapid.IntRange(1, m.published[ref]).Draw(t, "to")
	what := fmt.Sprintf("config rollback --layer %s --to %d", ref, to)
	trace := traceid.New()
	res, err := ops.Rollback(m.ctx, m.st, ops.RollbackRequest{Ref: ref, To: to, Actor: modelActor, Message: what, TraceID: trace})
	var refused *ops.RefusedError
	switch {
	case err == nil && res.Version == 0:
		t.Logf("%s: the head is there already", what)
	case err == nil:
		m.ours[trace] = true
		m.stats.rollbacks++
		t.Logf("%s: moved from %d", what, res.Base)
		m.validatedBy(t, ref, what)
	case errors.As(err, &refused), errors.Is(err, store.ErrNotFound):
		// ErrNotFound: the head is at version 0 (the rollback of a layer's first version).
		m.stats.refused++
		t.Logf("%s: %s", what, oneLine(err))
	default:
		t.Fatalf("%s: %v", what, err)
	}
}

// strategy stores one of the model's strategies (replacing the one of its name), or
// deletes one.
func (m *model) strategy(t *rapid.T) {
	if rapid.IntRange(0, 2).Draw(t, "delete") == 2 {
		name := rapid.SampledFrom(modelStrategyNames).Draw(t, "strategy")
		found, err := m.st.DeleteStrategy(m.ctx, name)
		if err != nil {
			t.Fatalf("delete strategy %s: %v", name, err)
		}
		t.Logf("rollout strategy delete %s (existed: %v)", name, found)
		return
	}
	text := rapid.SampledFrom(modelStrategies).Draw(t, "strategy")
	s, err := rollout.ParseStrategy([]byte(text))
	if err != nil {
		t.Fatalf("strategy: %v", err)
	}
	if err := m.st.PutStrategy(m.ctx, s, modelOperator); err != nil {
		t.Fatalf("put strategy %s: %v", s.Name, err)
	}
	t.Logf("rollout strategy put %s", strings.ReplaceAll(strings.TrimSpace(text), "\n", " "))
}

// setArgo sets what Argo CD reports of one cluster: one of a wave being rolled out when
// there is one (its state decides the wave), else any.
func (m *model) setArgo(t *rapid.T) {
	inv := m.read(t)
	var inWave []string
	for _, c := range inv.Clusters {
		for _, ref := range []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment)} {
			if r, ok := inv.LiveRollout(ref); ok && waveOf(r, c.Name) == r.Wave && !slices.Contains(inWave, c.Name) {
				inWave = append(inWave, c.Name)
			}
		}
	}
	if len(inWave) == 0 {
		inWave = modelClusters
	}
	c := rapid.SampledFrom(inWave).Draw(t, "cluster")
	s := rapid.SampledFrom(argoStates).Draw(t, "state")
	m.argo[c] = s
	t.Logf("Argo CD reports %s: %s", c, s)
}

// setFleet sets what Argo CD reports of every cluster: Synced and Healthy, or each its own.
func (m *model) setFleet(t *rapid.T) {
	if rapid.Bool().Draw(t, "each its own") {
		var parts []string
		for _, c := range modelClusters {
			m.argo[c] = rapid.SampledFrom(argoStates).Draw(t, "state of "+c)
			parts = append(parts, fmt.Sprintf("%s: %s", c, m.argo[c]))
		}
		t.Logf("Argo CD reports %s", strings.Join(parts, "; "))
		return
	}
	clear(m.argo)
	t.Logf("Argo CD reports every cluster Synced/Healthy")
}

// ticks lets the drivers of replicas tick (two: at once) one to three times, the clock
// moving before each.
func (m *model) ticks(t *rapid.T, replicas ...int) {
	for range rapid.IntRange(1, 3).Draw(t, "ticks") {
		m.tick(t, replicas...)
	}
}

// tick moves the clock and lets the drivers of replicas tick (two: at once) once.
func (m *model) tick(t *rapid.T, replicas ...int) {
	d := rapid.SampledFrom(tickAdvances).Draw(t, "advance")
	m.clock.Add(d)
	now := m.clock.Now()
	pre := m.read(t)
	apps, err := m.applications(pre, now)
	if err != nil {
		t.Fatal(err)
	}
	m.fleet.set(apps, len(replicas))
	judged := m.judge(pre, now)
	errs := make([]error, len(replicas))
	if len(replicas) == 1 {
		_, errs[0] = m.drivers[replicas[0]].Tick(m.ctx)
	} else {
		done := make(chan struct{})
		for i, r := range replicas {
			go func() {
				defer func() { done <- struct{}{} }()
				_, errs[i] = m.drivers[r].Tick(m.ctx)
			}()
		}
		for range replicas {
			<-done
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("tick of replica r%d: %v", replicas[i]+1, err)
		}
	}
	post := m.read(t)
	names := make([]string, len(replicas))
	for i, r := range replicas {
		names[i] = fmt.Sprintf("r%d", r+1)
	}
	t.Logf("tick of %s at %s: %s", strings.Join(names, " and "), since(now), describeRollouts(post))
	m.checkTick(t, pre, post, judged, now)
}

func since(at time.Time) string { return "+" + at.Sub(modelStart).String() }

func describeRollouts(inv *registry.Inventory) string {
	var parts []string
	refs := slices.Collect(maps.Keys(inv.Rollouts))
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		r := inv.Rollouts[ref]
		_, live := inv.LiveRollout(ref)
		s := fmt.Sprintf("%s %d→%d %s", ref, r.Stable, r.Target, r.Describe())
		if !live {
			s += " (over)"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no rollouts"
	}
	return strings.Join(parts, "; ")
}

// applications are the Applications Argo CD reports: one per registered cluster (unless it
// has none), on the configVersion the generator serves it.
func (m *model) applications(inv *registry.Inventory, now time.Time) ([]argocd.Application, error) {
	var out []argocd.Application
	for _, c := range inv.Clusters {
		s := m.argo[c.Name]
		if s == argoNoApp {
			continue
		}
		a := modelApp{cluster: c.Name, env: c.Record.Environment, served: c.Served.String(), state: s, now: now}
		if p, ok := m.previous[c.Name]; ok {
			a.previous = p.String()
		}
		app, err := a.Application()
		if err != nil {
			return nil, err
		}
		out = append(out, app)
	}
	return out, nil
}

// operate runs an operator action on a live rollout: pause, promote and abort through the
// CLI (rollout pause|promote|abort), resume through the function the CLI calls with the
// model's clock (the CLI stamps the wave's new start with the wall clock, and the drivers
// judge timeouts on the model's).
func (m *model) operate(t *rapid.T) {
	inv := m.read(t)
	var live []config.LayerRef
	for ref := range inv.Rollouts {
		if _, ok := inv.LiveRollout(ref); ok {
			live = append(live, ref)
		}
	}
	if len(live) == 0 {
		t.Skip("no live rollout")
	}
	config.SortLayerRefs(live, func(r config.LayerRef) config.LayerRef { return r })
	ref := rapid.SampledFrom(live).Draw(t, "layer")
	action := rapid.SampledFrom([]string{"pause", "resume", "promote", "abort"}).Draw(t, "action")
	if action == "resume" {
		r, _ := inv.LiveRollout(ref)
		now := m.clock.Now()
		if err := r.Resume(now, modelOperator, "model"); err != nil {
			t.Logf("rollout resume --layer %s: %v", ref, err)
			return
		}
		_, err := m.st.UpdateRollout(m.ctx, r, store.RolloutUpdate{Audit: &store.AuditRecord{
			Ref: ref, Action: "rollout-resume", From: r.Target, To: r.Target, At: now, Actor: modelOperator, Message: "model", TraceID: traceid.New()}})
		if err != nil {
			t.Fatalf("rollout resume --layer %s: %v", ref, err)
		}
		m.stats.operator++
		t.Logf("rollout resume --layer %s: %s", ref, r.Describe())
		return
	}
	code, stdout, stderr := m.cli("rollout", action, "--layer", ref.String(), "-m", "model", "--actor", modelOperator)
	t.Logf("rollout %s --layer %s: exit %d: %s", action, ref, code, oneLine(errors.New(stdout+stderr)))
	if code == cli.ExitOK {
		m.stats.operator++
	}
	if code != cli.ExitOK && code != cli.ExitInvalid {
		t.Fatalf("rollout %s --layer %s: exit %d\n%s%s", action, ref, code, stdout, stderr)
	}
}

// cli runs a dynamo-cmp command in process with the table's environment plus extra.
func (m *model) cli(args ...string) (int, string, string) {
	return m.cliEnv(nil, args...)
}

func (m *model) cliEnv(extra cli.Env, args ...string) (int, string, string) {
	env := maps.Clone(m.env)
	maps.Copy(env, extra)
	var out, errOut bytes.Buffer
	code := cli.Run(m.ctx, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args, env)
	return code, out.String(), errOut.String()
}

// read reads the registry as the generator and the drivers do.
func (m *model) read(t *rapid.T) *registry.Inventory {
	inv, err := registry.ReadInventory(m.ctx, m.st)
	if err != nil {
		t.Fatalf("read the registry: %v", err)
	}
	return inv
}

// generatorAnswer asks the ApplicationSet plugin generator of serve (its HTTP handler, on a
// cache that lives as long as the sequence) for every cluster's parameters.
func (m *model) generatorAnswer(t *rapid.T) []generator.ParamSet {
	req := httptest.NewRequestWithContext(m.ctx, http.MethodPost, generator.GetParamsPath,
		strings.NewReader(`{"applicationSetName":"cluster-bootstrap","input":{"parameters":{}}}`))
	req.Header.Set("Authorization", "Bearer "+modelGeneratorToken)
	rec := httptest.NewRecorder()
	m.gen.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("the plugin generator answered %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		Output struct {
			Parameters []generator.ParamSet `json:"parameters"`
		} `json:"output"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("the plugin generator's answer: %v", err)
	}
	return body.Output.Parameters
}

// generate runs generate as argocd-cmp-server does for the Application the shipped
// ApplicationSet makes of p.
func (m *model) generate(p generator.ParamSet) (int, string, string) {
	params, _ := json.Marshal([]map[string]any{
		{"name": "cluster", "string": p.Cluster},
		{"name": "environment", "string": p.Environment},
		{"name": "configVersion", "string": p.ConfigVersion},
		{"name": "components", "array": []string{"namespaces", "rbac", "network", "calico", "manifests"}},
	})
	return m.cliEnv(cli.Env{
		"ARGOCD_APP_NAME": p.Cluster + "-bootstrap", "ARGOCD_APP_NAMESPACE": "default", "ARGOCD_APP_PROJECT_NAME": "platform",
		"ARGOCD_APP_REVISION": "HEAD", "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/platform/bootstrap.git",
		"ARGOCD_APP_SOURCE_PATH": "dynamo-cmp", "ARGOCD_APP_SOURCE_TARGET_REVISION": "HEAD", "KUBE_VERSION": "1.34.1",
		"ARGOCD_APP_PARAMETERS": string(params),
		// generate tunes the garbage collector of its process (GOGC 400, a 256 MiB memory
		// limit) unless these are set; in process that would be the test's.
		"GOGC": "100", "GOMEMLIMIT": "off",
	}, "generate")
}

// renderCombo renders a cluster at a configVersion from the published versions, as
// publish's validation does (ops.Render over the three layers); nil when it renders.
func (m *model) renderCombo(t *rapid.T, k combo) error {
	if err, ok := m.renders[k]; ok {
		return err
	}
	layer := func(ref config.LayerRef, v int) config.Layer {
		if v == 0 {
			return config.Layer{Ref: ref}
		}
		pin := store.Pin{Ref: ref, Version: v}
		if l, ok := m.layers[pin]; ok {
			return l
		}
		l, err := m.st.ReadVersion(m.ctx, ref, v)
		if err != nil {
			t.Fatalf("read %s version %d: %v", ref, v, err)
		}
		m.layers[pin] = l
		return l
	}
	cl := layer(config.ClusterLayer(k.cluster), k.cv.Cluster)
	rec := config.RecordOf(cl.Entries)
	if rec == nil {
		t.Fatalf("cluster/%s version %d has no cluster record", k.cluster, k.cv.Cluster)
	}
	_, err := ops.Render([]config.Layer{layer(config.GlobalLayer, k.cv.Global), layer(config.EnvLayer(rec.Environment), k.cv.Env), cl}, k.cluster, nil, render.Options{}, nil)
	m.renders[k] = err
	return err
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
