package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/internal/wave"
)

// DriverActor is the actor of the steps and rollbacks the driver takes.
const DriverActor = "dynamo-cmp serve (rollout)"

// DefaultObserveInterval is how often the Applications are read when no rollout is live, to
// keep `clusters status` and the cluster metrics current.
const DefaultObserveInterval = 30 * time.Second

// DriverStore is what the driver needs of the store.
type DriverStore interface {
	ops.Store
	UpdateRollout(ctx context.Context, r wave.Rollout, u store.RolloutUpdate) (wave.Rollout, error)
	PutObservations(ctx context.Context, obs []store.Observation) error
}

// DriverOptions configure a Driver.
type DriverOptions struct {
	ArgoCD Applications
	Store  DriverStore
	// Emit receives the events (nil: none are sent). It must not block.
	Emit       func(notify.Event)
	PluginName string
	// Interval is how often the live rollouts are judged; ObserveInterval how often the
	// Applications are read when none is live.
	Interval, ObserveInterval time.Duration
	// WaveTimeout halts a rollout whose current wave is not Synced and Healthy that long
	// after it started (its pending clusters count as failed).
	WaveTimeout  time.Duration
	StoreTimeout time.Duration
	Replica      string
	Now          func() time.Time
	Log          *slog.Logger
	Metrics      *DriverMetrics
}

// Driver moves the rollouts in waves on. Every Interval it reads the registry (heads and
// rollouts, one query) and the Applications (one call), records what each cluster's
// Applications report, and takes at most one step per live rollout: the bake of a wave
// starts when every cluster of the wave is Synced and Healthy on the configVersion it is
// served, the next wave starts when that lasted the wave's bake time, and more failed
// clusters than the wave allows halt the rollout (every cluster is served the stable
// version again) and roll the layer's head back to it.
//
// Every step is a conditional write over the revision the driver read, so any number of
// replicas can run a driver: one wins each step, the others see the step at their next
// reading. Nothing of a rollout lives in the replica's memory.
type Driver struct {
	o    DriverOptions
	wake chan struct{}

	mu       sync.Mutex
	observed map[string]store.Observation // as last written, by cluster
	// refusedAt remembers rollbacks the store refused, by rollout id, to retry them slowly.
	refusedAt map[string]time.Time
}

// NewDriver returns a driver; Run does its work.
func NewDriver(o DriverOptions) *Driver {
	if o.Interval <= 0 {
		o.Interval = DefaultStatusInterval
	}
	if o.ObserveInterval <= 0 {
		o.ObserveInterval = DefaultObserveInterval
	}
	if o.WaveTimeout <= 0 {
		o.WaveTimeout = DefaultRolloutTimeout
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Driver{o: o, wake: make(chan struct{}, 1), observed: map[string]store.Observation{}, refusedAt: map[string]time.Time{}}
}

// Wake makes the driver look again now (a change was seen).
func (d *Driver) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run drives the rollouts until ctx is done.
func (d *Driver) Run(ctx context.Context) {
	failing := false
	for {
		live, err := d.Tick(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		failing = logOutage(d.o.Log, failing, err, "rollouts: cannot read the registry or the Applications; trying again", "rollouts: reading the registry and the Applications again")
		interval := d.o.ObserveInterval
		if live > 0 {
			interval = d.o.Interval
		}
		tm := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-d.wake:
			tm.Stop()
		case <-tm.C:
		}
	}
}

// Tick reads the registry and the Applications once and moves every live rollout on by at
// most one step. It returns how many rollouts are live.
func (d *Driver) Tick(ctx context.Context) (live int, err error) {
	sctx, cancel := context.WithTimeout(ctx, d.o.StoreTimeout)
	reg, err := d.o.Store.RegistryState(sctx)
	cancel()
	if err != nil {
		return 0, err
	}
	inv := ops.InventoryOf(reg)
	apps, err := d.o.ArgoCD.ListApplications(ctx)
	if err != nil {
		return 0, err
	}
	byCluster := map[string][]*argocd.Application{}
	for i := range apps {
		if c := apps[i].Cluster(d.o.PluginName); c != "" {
			byCluster[c] = append(byCluster[c], &apps[i])
		}
	}
	d.observe(ctx, inv, byCluster)
	var errs []error
	refs := make([]config.LayerRef, 0, len(inv.Rollouts))
	for ref := range inv.Rollouts {
		refs = append(refs, ref)
	}
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		r, ok := inv.LiveRollout(ref)
		if !ok {
			continue
		}
		live++
		if err := d.step(ctx, inv, r, byCluster); err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, err)
		}
	}
	d.o.Metrics.setRollouts(inv)
	return live, errors.Join(errs...)
}

// clusterVerdict is the judgement of one cluster of a wave.
type clusterVerdict struct {
	name    string
	verdict verdict
	reason  string
	apps    []notify.AppStatus
}

// judgeWave judges the clusters of r's current wave on the configVersion each is served.
func (d *Driver) judgeWave(inv *ops.Inventory, r wave.Rollout, byCluster map[string][]*argocd.Application) []clusterVerdict {
	var out []clusterVerdict
	x, _ := inv.Live(r.Layer)
	for _, c := range inv.Affected(r.Layer, nil) {
		if x.WaveOf(c.Name) != r.Wave {
			continue
		}
		cv := clusterVerdict{name: c.Name, verdict: good}
		list := byCluster[c.Name]
		if len(list) == 0 {
			cv.verdict, cv.reason = pending, "no Argo CD Application uses the plugin for this cluster"
		}
		slices.SortFunc(list, func(a, b *argocd.Application) int { return strings.Compare(string(a.Key()), string(b.Key())) })
		for _, app := range list {
			v, st := judge(app, d.o.PluginName, c.Served, r.WaveStartedAt, r.WaveStartedAt)
			cv.apps = append(cv.apps, st)
			switch {
			case v == failed:
				cv.verdict = failed
				cv.reason = st.Namespace + "/" + st.Name + ": " + st.Message
			case v == pending && cv.verdict == good:
				cv.verdict, cv.reason = pending, st.Namespace+"/"+st.Name+": "+st.Message
			}
		}
		out = append(out, cv)
	}
	return out
}

// step takes at most one step of the live rollout r.
func (d *Driver) step(ctx context.Context, inv *ops.Inventory, r wave.Rollout, byCluster map[string][]*argocd.Application) error {
	now := d.o.Now().UTC()
	switch r.State {
	case wave.Paused:
		return nil
	case wave.Halted, wave.Aborted:
		return d.rollBack(ctx, r)
	}
	if !r.Announced {
		next := r.Clone()
		next.Announced = true
		if _, err := d.write(ctx, next, false); err != nil {
			return err
		}
		d.event(notify.EventRolloutStarted, next, "")
		d.event(notify.EventRolloutWaveStarted, next, "")
		return nil
	}
	w := r.Current()
	verdicts := d.judgeWave(inv, r, byCluster)
	var failures, pendings []string
	for _, v := range verdicts {
		switch v.verdict {
		case failed:
			failures = append(failures, v.name+" ("+v.reason+")")
		case pending:
			pendings = append(pendings, v.name+" ("+v.reason+")")
		}
	}
	timedOut := now.Sub(r.WaveStartedAt) > d.o.WaveTimeout
	if timedOut && len(pendings) > 0 {
		for _, p := range pendings {
			failures = append(failures, p+", not Synced and Healthy within "+d.o.WaveTimeout.String())
		}
		pendings = nil
	}
	next := r.Clone()
	switch {
	case len(failures) > w.MaxFailures:
		reason := fmt.Sprintf("wave %d (%s): %d of %d clusters failed, at most %d may: %s", r.Wave+1, w.Name, len(failures), len(verdicts), w.MaxFailures, strings.Join(failures, "; "))
		next.Halt(now, DriverActor, reason)
		written, err := d.write(ctx, next, true)
		if err != nil {
			return err
		}
		d.o.Log.Warn("rollout halted: every cluster is served the stable version again", "layer", r.Layer.String(), "target", r.Target, "stable", r.Stable, "reason", reason)
		d.event(notify.EventRolloutHalted, written, reason)
		return d.rollBack(ctx, written)
	case len(pendings) > 0:
		if !r.BakeStartedAt.IsZero() {
			next.BakeStartedAt = time.Time{}
			_, err := d.write(ctx, next, false)
			return err
		}
		return nil
	case r.BakeStartedAt.IsZero() && w.Bake > 0 && !r.Promoted:
		next.BakeStartedAt = now
		_, err := d.write(ctx, next, false)
		return err
	case r.Promoted || w.Bake == 0 || now.Sub(r.BakeStartedAt) >= w.Bake:
		completed := next.Advance(now, DriverActor)
		written, err := d.write(ctx, next, true)
		if err != nil {
			return err
		}
		d.o.Log.Info("rollout wave completed", "layer", r.Layer.String(), "target", r.Target, "wave", r.Wave+1, "name", w.Name, "completed", completed)
		done := written.Clone()
		done.Wave = r.Wave
		d.event(notify.EventRolloutWaveCompleted, done, "")
		if completed {
			d.event(notify.EventRolloutCompleted, written, "")
		} else {
			d.event(notify.EventRolloutWaveStarted, written, "")
		}
	}
	return nil
}

// write stores the next revision of a rollout; served says whether what clusters are served
// changes (then the change counter moves in the same transaction).
func (d *Driver) write(ctx context.Context, r wave.Rollout, served bool) (wave.Rollout, error) {
	sctx, cancel := context.WithTimeout(ctx, d.o.StoreTimeout)
	defer cancel()
	written, err := d.o.Store.UpdateRollout(sctx, r, store.RolloutUpdate{Served: served})
	d.o.Metrics.step(err)
	if errors.Is(err, store.ErrConflict) {
		d.o.Log.Debug("rollout step taken by someone else", "layer", r.Layer.String(), "rev", r.Rev)
	}
	return written, err
}

// rollBack moves the head of a halted or aborted rollout back to its stable version (only
// from its target: a publish since wins) and records the rollout as rolled back. The stable
// version of a layer's first rollout is 0: the head then moves back to "no entries", as
// before that first publish, so the head equals what every cluster is served.
func (d *Driver) rollBack(ctx context.Context, r wave.Rollout) error {
	d.mu.Lock()
	last, refused := d.refusedAt[r.ID]
	d.mu.Unlock()
	if refused && d.o.Now().Sub(last) < 5*time.Minute {
		return nil
	}
	trace := traceid.New()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	res, err := ops.Rollback(rctx, ops.OnlyFrom(d.o.Store, r.Layer, r.Target), ops.RollbackRequest{
		Ref: r.Layer, To: r.Stable, Base: &r.Target, Actor: DriverActor, TraceID: trace,
		Message: fmt.Sprintf("rollout of %s version %d %s (trace %s), back to version %s: %s", r.Layer, r.Target, r.State, r.ID, ops.VersionText(r.Stable), firstLine(r.Reason)),
	})
	cancel()
	var refusedErr *ops.RefusedError
	switch {
	case errors.Is(err, store.ErrConflict):
		d.o.Log.Info("rollout: the layer moved since the rollout started; not rolling back", "layer", r.Layer.String(), "target", r.Target)
		return nil
	case errors.As(err, &refusedErr):
		d.mu.Lock()
		d.refusedAt[r.ID] = d.o.Now()
		d.mu.Unlock()
		d.o.Log.Error("rollout: the rollback to the stable version was refused; clusters stay on it, the head stays", "layer", r.Layer.String(), "stable", r.Stable, "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("roll %s back to version %d: %w", r.Layer, r.Stable, err)
	}
	next := r.Clone()
	next.RolledBack(d.o.Now().UTC(), DriverActor, fmt.Sprintf("head moved back to version %s (trace %s)", ops.VersionText(r.Stable), trace))
	written, err := d.write(ctx, next, false)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	if res.Moved() {
		d.o.Log.Warn("rollout rolled back", "layer", r.Layer.String(), "from", r.Target, "to", r.Stable, "trace", trace)
		d.event(notify.EventRolloutRolledBack, written, r.Reason)
	}
	return nil
}

// event reports a step of r.
func (d *Driver) event(typ string, r wave.Rollout, reason string) {
	d.o.Metrics.event(typ)
	if d.o.Emit == nil {
		return
	}
	w := r.Current()
	ev := notify.Event{
		Type: typ, Time: d.o.Now().UTC(), Layer: r.Layer.String(), Version: r.Target, PreviousVersion: r.Stable,
		Actor: r.Actor, TraceID: r.ID, Reason: reason, Replica: d.o.Replica,
		Rollout: &notify.EventRollout{Strategy: r.Strategy, State: string(r.State), Stable: r.Stable,
			Wave: min(r.Wave, len(r.Waves)-1) + 1, Waves: len(r.Waves), WaveName: w.Name, Clusters: slices.Clone(w.Clusters)},
	}
	ev.ID = notify.EventID(typ, r.Layer.String(), r.ID, fmt.Sprint(r.Wave))
	d.o.Emit(ev)
}

// observe sums up each cluster's Applications, records what changed since the last
// record, and sets the cluster metrics.
func (d *Driver) observe(ctx context.Context, inv *ops.Inventory, byCluster map[string][]*argocd.Application) {
	now := d.o.Now().UTC()
	var changed []store.Observation
	d.mu.Lock()
	d.o.Metrics.resetClusters() // every registered cluster is set again below; deregistered ones go
	for _, c := range inv.Clusters {
		o := summarize(c.Name, byCluster[c.Name], d.o.PluginName)
		o.At, o.Replica = now, d.o.Replica
		prev, ok := d.observed[c.Name]
		if !ok || prev.Applications != o.Applications || prev.Sync != o.Sync || prev.Health != o.Health || prev.SyncedVersion != o.SyncedVersion {
			changed = append(changed, o)
		}
		d.o.Metrics.cluster(c, o)
	}
	d.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, d.o.StoreTimeout)
	err := d.o.Store.PutObservations(sctx, changed)
	cancel()
	if err != nil {
		d.o.Log.Warn("rollouts: cannot record what the Applications report (clusters status shows older data)", "error", err)
		return
	}
	d.mu.Lock()
	for _, o := range changed {
		d.observed[o.Cluster] = o
	}
	d.mu.Unlock()
}

// summarize is what a cluster's Applications report, together.
func summarize(cluster string, apps []*argocd.Application, plugin string) store.Observation {
	o := store.Observation{Cluster: cluster, Applications: len(apps), Sync: "Unknown", Health: "Unknown"}
	if len(apps) == 0 {
		return o
	}
	o.Sync, o.Health = "Synced", "Healthy"
	version := ""
	for i, app := range apps {
		if s := app.Status.Sync.Status; s != "Synced" {
			o.Sync = orUnknown(s)
		}
		if h := app.Status.Health.Status; h != "Healthy" && o.Health != "Degraded" {
			o.Health = orUnknown(h)
		}
		v := config.LatestVersion
		if idx, _, ok := app.Ours(plugin); ok {
			if src := argocd.Pick(app.Status.Sync.ComparedTo.Source, app.Status.Sync.ComparedTo.Sources, idx); src != nil && src.Version() != "" {
				v = src.Version()
			}
		}
		if i == 0 {
			version = v
		} else if version != v {
			version = ""
		}
	}
	if o.Sync == "Synced" && o.Health == "Healthy" {
		o.SyncedVersion = version
	}
	return o
}

// DriverMetrics are the driver's metrics: the fleet as the driver last saw it, and the
// rollouts.
type DriverMetrics struct {
	clusterInfo *prometheus.GaugeVec
	wave        *prometheus.GaugeVec
	steps       *prometheus.CounterVec
	events      *prometheus.CounterVec
}

// NewDriverMetrics returns the driver's metrics, registered in reg.
func NewDriverMetrics(reg prometheus.Registerer, namespace string) *DriverMetrics {
	m := &DriverMetrics{
		clusterInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "cluster_info",
			Help: "One series per registered cluster (value 1): the configVersion served, the one its Applications are Synced and Healthy on (empty when not), their sync and health."},
			[]string{"cluster", "environment", "served", "synced", "sync", "health"}),
		wave: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "rollout_wave",
			Help: "The current wave (1-based) of each layer's live rollout, by state."}, []string{"layer", "state"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rollout_steps_total",
			Help: "Rollout steps written, by outcome (written, taken-elsewhere, error)."}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rollout_events_total",
			Help: "Rollout events, by type (rollout-started, rollout-wave-completed, rollout-halted ...)."}, []string{"type"}),
	}
	reg.MustRegister(m.clusterInfo, m.wave, m.steps, m.events)
	return m
}

func (m *DriverMetrics) resetClusters() {
	if m != nil {
		m.clusterInfo.Reset()
	}
}

func (m *DriverMetrics) cluster(c ops.ClusterInfo, o store.Observation) {
	if m == nil {
		return
	}
	m.clusterInfo.WithLabelValues(c.Name, c.Record.Environment, c.Served.String(), o.SyncedVersion, o.Sync, o.Health).Set(1)
}

func (m *DriverMetrics) setRollouts(inv *ops.Inventory) {
	if m == nil {
		return
	}
	m.wave.Reset()
	for ref := range inv.Rollouts {
		if r, ok := inv.LiveRollout(ref); ok {
			m.wave.WithLabelValues(ref.String(), string(r.State)).Set(float64(min(r.Wave, len(r.Waves)-1) + 1))
		}
	}
}

func (m *DriverMetrics) step(err error) {
	if m == nil {
		return
	}
	switch {
	case err == nil:
		m.steps.WithLabelValues("written").Inc()
	case errors.Is(err, store.ErrConflict):
		m.steps.WithLabelValues("taken-elsewhere").Inc()
	default:
		m.steps.WithLabelValues("error").Inc()
	}
}

func (m *DriverMetrics) event(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}
