package progress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DriverActor is the actor of the steps and rollbacks the driver takes.
const DriverActor = "dynamo-cmp serve (rollout)"

// DefaultObserveInterval is how often the Applications are read when no rollout is live and
// no change is followed, to keep `clusters status` and the cluster metrics current.
const DefaultObserveInterval = 30 * time.Second

// DriverStore is what the driver needs of the store.
type DriverStore interface {
	ops.Store
	UpdateRollout(ctx context.Context, r rollout.Rollout, u store.RolloutUpdate) (rollout.Rollout, error)
	PutObservations(ctx context.Context, obs []store.Observation) error
}

// DriverArgoCD is what the driver needs of the Argo CD API (*argocd.Client).
type DriverArgoCD interface {
	Applications
	TerminateOperation(ctx context.Context, app *argocd.Application) error
}

var _ DriverArgoCD = (*argocd.Client)(nil)

// DriverOptions configure a Driver.
type DriverOptions struct {
	ArgoCD DriverArgoCD
	// Reader reads the Applications (nil: one of its own over ArgoCD.ListApplications). serve
	// shares one with the refresher.
	Reader *argocd.Reader
	Store  DriverStore
	// Tracker, when set, judges the changes it follows on the driver's reading of the
	// Applications, before the driver's steps (one reading, one order of events).
	Tracker *Tracker
	// Emit receives the events (nil: none are sent). It must not block.
	Emit       func(event.Event)
	PluginName string
	// Interval is how often the Applications are read while a rollout is live or the Tracker
	// follows a change; ObserveInterval how often otherwise.
	Interval, ObserveInterval time.Duration
	// WaveTimeout fails the clusters of the current wave that have not been Synced and
	// Healthy on what they are served that long after the wave started. A cluster that was
	// (it settled in the wave) is never failed by the timeout: its drift restarts the bake.
	WaveTimeout  time.Duration
	StoreTimeout time.Duration
	Replica      string
	Now          func() time.Time
	Log          *slog.Logger
	Metrics      *DriverMetrics
}

// Driver moves the rollouts in waves on. Every Interval it reads the registry (heads and
// rollouts, one query) and the Applications (one call), records what each cluster's
// Applications report, lets the Tracker judge the changes it follows, and takes at most one
// step per live rollout: the bake of a wave starts when every cluster of the wave is Synced
// and Healthy on the configVersion it is served, the next wave starts when that lasted the
// wave's bake time (a wave without clusters completes at once), and more failed clusters
// than the wave allows halt the rollout (every cluster is served the stable version again)
// and roll the layer's head back to it. It also ends the Argo CD operations that keep
// retrying a configVersion their Application is no longer served (see terminateStale).
//
// Every step is a conditional write over the revision the driver read, so any number of
// replicas can run a driver: one wins each step, the others see the step at their next
// reading. Nothing of a rollout lives in the replica's memory, and the events of a step
// (the failures of a wave's clusters, then the step) are sent once, by the replica whose
// write won.
type Driver struct {
	o    DriverOptions
	wake chan struct{}

	mu       sync.Mutex
	observed map[string]store.Observation // as last written, by cluster
	// unsettled is a cluster's summary seen at the last reading and not written: a summary
	// that is not Synced and Healthy on a version is written when it is seen again.
	unsettled map[string]store.Observation
	// readAt is when the reading of the last tick started, wokeAt when the last change woke
	// the driver: a tick takes a reading that started after both.
	readAt, wokeAt time.Time
	// refusedAt remembers rollbacks the store refused, by rollout id, to retry them slowly.
	refusedAt map[string]time.Time
	// terminated remembers the operations this replica asked Argo CD to end, by Application
	// and operation start: each is ended once, a refused request is asked again after
	// terminateRetry.
	terminated map[string]termination
}

// termination is a request to end an operation: when it was last made, and whether Argo CD
// accepted it.
type termination struct {
	at time.Time
	ok bool
}

// terminateRetry is how long a refused request to end an operation waits to be made again.
const terminateRetry = 30 * time.Second

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
	if o.Reader == nil {
		list := o.ArgoCD.ListApplications
		// A Reader without a selector always lists every Application: it cannot fail to parse.
		o.Reader, _ = argocd.NewReader(argocd.ReaderOptions{PluginName: o.PluginName, Now: o.Now, Log: o.Log,
			List: func(ctx context.Context, _ string) ([]argocd.Application, error) { return list(ctx) }})
	}
	return &Driver{o: o, wake: make(chan struct{}, 1), observed: map[string]store.Observation{}, unsettled: map[string]store.Observation{}, refusedAt: map[string]time.Time{},
		terminated: map[string]termination{}}
}

// Wake makes the driver look again now (a change was seen).
func (d *Driver) Wake() {
	d.mu.Lock()
	d.wokeAt = d.o.Now()
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

var _ registry.Subscriber = (*Driver)(nil)

// Loaded does nothing: the driver reads the rollouts on its own from the start.
func (d *Driver) Loaded(*registry.Snapshot) {}

// Changed wakes the driver: a change may be a rollout to drive.
func (d *Driver) Changed(*registry.Snapshot, []registry.Change) { d.Wake() }

// Run drives the rollouts until ctx is done.
func (d *Driver) Run(ctx context.Context) {
	failing := false
	var trackerWake <-chan struct{}
	if d.o.Tracker != nil {
		trackerWake = d.o.Tracker.wake
	}
	for {
		live, err := d.Tick(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		failing = logOutage(d.o.Log, failing, err, "rollouts: cannot read the registry or the Applications; trying again", "rollouts: reading the registry and the Applications again")
		tm := time.NewTimer(d.interval(live))
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-d.wake:
			tm.Stop()
		case <-trackerWake:
			tm.Stop()
		case <-tm.C:
		}
	}
}

// interval is how long to wait before the next reading: Interval while a rollout is live or
// the Tracker follows a change (so `clusters status` follows a change within Interval too),
// ObserveInterval otherwise.
func (d *Driver) interval(live int) time.Duration {
	if live > 0 || (d.o.Tracker != nil && d.o.Tracker.state.Active() > 0) {
		return d.o.Interval
	}
	return d.o.ObserveInterval
}

// Tick reads the registry and the Applications once, records what the clusters'
// Applications report, lets the Tracker judge the changes it follows, and moves every live
// rollout on by at most one step. It returns how many rollouts are live.
func (d *Driver) Tick(ctx context.Context) (live int, err error) {
	sctx, cancel := context.WithTimeout(ctx, d.o.StoreTimeout)
	reg, err := d.o.Store.RegistryState(sctx)
	cancel()
	if err != nil {
		return 0, err
	}
	inv := registry.InventoryOf(reg)
	// A reading the refresher took since the last tick serves this tick too (one list call
	// per interval for the whole service), unless it started before what this tick is for: a
	// change that woke the driver, or one the tracker follows, or a hard refresh it was told
	// of (a reading from before the refresh would show the old rendering as the new one).
	d.mu.Lock()
	after := d.readAt
	if d.wokeAt.After(after) {
		after = d.wokeAt
	}
	d.mu.Unlock()
	if d.o.Tracker != nil {
		if s := d.o.Tracker.signaledAt(); s.After(after) {
			after = s
		}
	}
	rd, err := d.o.Reader.ReadSince(ctx, after)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.readAt = rd.At
	d.mu.Unlock()
	// Shared with the refresher: read only (each cluster's list is sorted by Application).
	byCluster := rd.ByCluster
	d.observe(ctx, inv, byCluster)
	refs := make([]config.LayerRef, 0, len(inv.Rollouts))
	for ref := range inv.Rollouts {
		refs = append(refs, ref)
	}
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	// The clusters of the current wave of a progressing rollout are judged by the driver,
	// which reports their failures with the step they cause.
	judged := map[string]bool{}
	for _, ref := range refs {
		if r, ok := inv.LiveRollout(ref); ok && r.State == rollout.Progressing {
			for _, c := range d.waveClusters(inv, r) {
				judged[c.Name] = true
			}
		}
	}
	if d.o.Tracker != nil {
		d.o.Tracker.evaluate(ctx, inv, byCluster, judged)
	}
	var errs []error
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
	d.terminateStale(ctx, byCluster)
	d.o.Metrics.setRollouts(inv)
	return live, errors.Join(errs...)
}

// clusterVerdict is the judgement of one cluster of a wave.
type clusterVerdict struct {
	name    string
	served  config.ConfigVersion
	verdict verdict
	reason  string
	// kind is the event of a failure: degraded, sync-failed or rollout-timeout.
	kind string
	apps []event.AppStatus
}

// waveClusters are the clusters of r's current wave (a cluster registered after the publish
// is in the last wave).
func (d *Driver) waveClusters(inv *registry.Inventory, r rollout.Rollout) []registry.ClusterInfo {
	x, _ := inv.Live(r.Layer)
	var out []registry.ClusterInfo
	for _, c := range inv.Affected(r.Layer, nil) {
		if x.WaveOf(c.Name) == r.Wave {
			out = append(out, c)
		}
	}
	return out
}

// judgeWave judges the clusters of r's current wave on the configVersion each is served.
func (d *Driver) judgeWave(inv *registry.Inventory, r rollout.Rollout, byCluster map[string][]*argocd.Application) []clusterVerdict {
	var out []clusterVerdict
	for _, c := range d.waveClusters(inv, r) {
		cv := clusterVerdict{name: c.Name, served: c.Served, verdict: good}
		list := byCluster[c.Name] // sorted by Application
		if len(list) == 0 {
			cv.verdict, cv.reason = pending, "no Argo CD Application uses the plugin for this cluster"
		}
		j := judgeCluster(list, d.o.PluginName, c.Served, r.WaveStartedAt, func(argocd.Key) time.Time { return r.WaveStartedAt })
		cv.apps = j.apps
		switch {
		case len(j.failures) > 0:
			st := j.failures[0]
			cv.verdict, cv.kind = failed, event.SyncFailed
			cv.reason = st.Namespace + "/" + st.Name + ": " + st.Message
			if st.Health == "Degraded" && strings.HasPrefix(st.Message, "Degraded") {
				cv.kind = event.Degraded
			}
		case len(j.pendings) > 0 && cv.verdict == good:
			st := j.pendings[0]
			cv.verdict, cv.reason = pending, st.Namespace+"/"+st.Name+": "+st.Message
		}
		out = append(out, cv)
	}
	return out
}

// stepEvent is an event of a rollout step, sent once the step is written.
type stepEvent struct {
	typ    string
	wave   int
	reason string
}

// step takes at most one step of the live rollout r.
func (d *Driver) step(ctx context.Context, inv *registry.Inventory, r rollout.Rollout, byCluster map[string][]*argocd.Application) error {
	now := d.o.Now().UTC()
	switch r.State {
	case rollout.Paused:
		return nil
	case rollout.Halted, rollout.Aborted:
		return d.rollBack(ctx, r)
	}
	next := r.Clone()
	if !r.Announced {
		next.Announced = true
		evs := []stepEvent{{typ: event.RolloutStarted, wave: r.Wave}, {typ: event.RolloutWaveStarted, wave: r.Wave}}
		served := d.skipEmptyWaves(inv, &next, now, &evs)
		written, err := d.write(ctx, next, served)
		if err != nil {
			return err
		}
		d.events(written, evs)
		return nil
	}
	w := r.Current()
	verdicts := d.judgeWave(inv, r, byCluster)
	if len(verdicts) == 0 {
		var evs []stepEvent
		d.skipEmptyWaves(inv, &next, now, &evs)
		written, err := d.write(ctx, next, true)
		if err != nil {
			return err
		}
		d.o.Log.Info("rollout wave skipped: no cluster in it", "layer", r.Layer.String(), "target", r.Target, "wave", r.Wave+1, "name", w.Name)
		d.events(written, evs)
		return nil
	}
	timedOut := now.Sub(r.WaveStartedAt) > d.o.WaveTimeout
	var failures, pendings []string
	var reported []clusterVerdict // failures reported with this step (once per cluster and wave)
	changed := false
	for _, v := range verdicts {
		switch {
		case v.verdict == good:
			changed = next.MarkSettled(v.name) || changed
		case v.verdict == pending && timedOut && !r.HasSettled(v.name):
			// The timeout bounds reaching Synced and Healthy; a cluster that has reached it
			// in this wave and drifts is pending, never failed by the timeout.
			v.verdict, v.kind = failed, event.RolloutTimeout
			v.reason += ", not Synced and Healthy within " + d.o.WaveTimeout.String()
		}
		switch v.verdict {
		case failed:
			failures = append(failures, v.name+" ("+v.reason+")")
			if next.MarkFailureReported(v.name) {
				reported, changed = append(reported, v), true
			}
		case pending:
			pendings = append(pendings, v.name+" ("+v.reason+")")
		}
	}
	var evs []stepEvent
	served := false
	switch {
	case len(failures) > w.MaxFailures:
		reason := fmt.Sprintf("wave %d (%s): %d of %d clusters failed, at most %d may: %s", r.Wave+1, w.Name, len(failures), len(verdicts), w.MaxFailures, strings.Join(failures, "; "))
		next.Halt(now, DriverActor, reason)
		written, err := d.write(ctx, next, true)
		if err != nil {
			return err
		}
		d.o.Log.Warn("rollout halted: every cluster is served the stable version again", "layer", r.Layer.String(), "target", r.Target, "stable", r.Stable, "reason", reason)
		d.clusterFailures(written, reported)
		d.events(written, []stepEvent{{typ: event.RolloutHalted, wave: r.Wave, reason: reason}})
		return d.rollBack(ctx, written)
	case len(pendings) > 0:
		if !r.BakeStartedAt.IsZero() {
			next.BakeStartedAt, changed = time.Time{}, true
		}
	case r.BakeStartedAt.IsZero() && w.Bake > 0 && !r.Promoted:
		next.BakeStartedAt, changed = now, true
	case r.Promoted || w.Bake == 0 || now.Sub(r.BakeStartedAt) >= w.Bake:
		completed := next.Advance(now, DriverActor)
		evs = append(evs, stepEvent{typ: event.RolloutWaveCompleted, wave: r.Wave})
		if completed {
			evs = append(evs, stepEvent{typ: event.RolloutCompleted, wave: r.Wave})
		} else {
			evs = append(evs, stepEvent{typ: event.RolloutWaveStarted, wave: next.Wave})
			d.skipEmptyWaves(inv, &next, now, &evs)
		}
		d.o.Log.Info("rollout wave completed", "layer", r.Layer.String(), "target", r.Target, "wave", r.Wave+1, "name", w.Name, "completed", completed)
		changed, served = true, true
	}
	if !changed {
		return nil
	}
	written, err := d.write(ctx, next, served)
	if err != nil {
		return err
	}
	d.clusterFailures(written, reported)
	d.events(written, evs)
	return nil
}

// skipEmptyWaves completes the current wave of next at once while it has no cluster (a
// cluster registered after the publish joins the last wave, which may then be empty only
// until then), appending the events of each skip. It reports whether a wave was skipped.
func (d *Driver) skipEmptyWaves(inv *registry.Inventory, next *rollout.Rollout, now time.Time, evs *[]stepEvent) bool {
	skipped := false
	for next.State == rollout.Progressing && len(d.waveClusters(inv, *next)) == 0 {
		w := next.Wave
		completed := next.Skip(now, DriverActor)
		*evs = append(*evs, stepEvent{typ: event.RolloutWaveCompleted, wave: w, reason: rollout.SkippedReason})
		if completed {
			*evs = append(*evs, stepEvent{typ: event.RolloutCompleted, wave: w})
		} else {
			*evs = append(*evs, stepEvent{typ: event.RolloutWaveStarted, wave: next.Wave})
		}
		skipped = true
	}
	return skipped
}

// write stores the next revision of a rollout; served says whether what clusters are served
// changes (then the change counter moves in the same transaction).
func (d *Driver) write(ctx context.Context, r rollout.Rollout, served bool) (rollout.Rollout, error) {
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
func (d *Driver) rollBack(ctx context.Context, r rollout.Rollout) error {
	d.mu.Lock()
	last, refused := d.refusedAt[r.ID]
	d.mu.Unlock()
	if refused && d.o.Now().Sub(last) < 5*time.Minute {
		return nil
	}
	trace := traceid.New()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	res, err := ops.RollBackToStable(rctx, d.o.Store, r, ops.RollbackRequest{
		Actor: DriverActor, TraceID: trace,
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
		d.event(event.RolloutRolledBack, written, r.Reason)
	}
	return nil
}

// events reports the steps written with r, each about its own wave.
func (d *Driver) events(r rollout.Rollout, evs []stepEvent) {
	for _, e := range evs {
		at := r
		at.Wave = e.wave
		d.event(e.typ, at, e.reason)
	}
}

// clusterFailures reports the failures of clusters of r's wave that were recorded with the
// step that wrote r: each once per wave, before the step they may have caused.
func (d *Driver) clusterFailures(r rollout.Rollout, failures []clusterVerdict) {
	for _, v := range failures {
		d.o.Metrics.event(v.kind)
		d.o.Log.Warn("rollout: a cluster of the wave failed", "layer", r.Layer.String(), "cluster", v.name, "configVersion", v.served.String(), "reason", v.reason)
		if d.o.Emit == nil {
			continue
		}
		w := r.Current()
		ev := event.Event{
			Type: v.kind, Time: d.o.Now().UTC(), Cluster: v.name, Layer: r.Layer.String(), Action: store.ActionPublish,
			Version: r.Target, PreviousVersion: r.Stable, ConfigVersion: v.served.String(), Actor: r.Actor, TraceID: r.ID,
			Reason: v.reason, ArgoCD: &event.ArgoCDStatus{Applications: v.apps}, Replica: d.o.Replica,
			Rollout: &event.RolloutStatus{Strategy: r.Strategy, State: string(r.State), Stable: r.Stable,
				Wave: min(r.Wave, len(r.Waves)-1) + 1, Waves: len(r.Waves), WaveName: w.Name, Clusters: slices.Clone(w.Clusters)},
		}
		ev.ID = event.ID(v.kind, v.name, v.served.String(), r.ID, fmt.Sprint(r.Wave))
		d.o.Emit(ev)
	}
}

// terminateStale ends the Argo CD operations that keep retrying a configVersion their
// Application no longer pins. Argo CD retries a failed sync of the source the operation
// started with, and its automated sync starts the sync of the new spec only once those
// retries are spent (minutes with a retry policy): after a halt, an abort or any rollback,
// the cluster would keep the bad version partly applied meanwhile. An operation is ended
// only when an attempt of it failed (RetryCount > 0) and it names the configVersion it syncs;
// a sync that merely runs is left alone. Each is asked once per replica.
func (d *Driver) terminateStale(ctx context.Context, byCluster map[string][]*argocd.Application) {
	live := map[string]bool{}
	for _, c := range slices.Sorted(maps.Keys(byCluster)) {
		for _, app := range byCluster[c] {
			op := app.Status.OperationState
			idx, src, ok := app.Ours(d.o.PluginName)
			if !ok || op == nil || op.Phase != argocd.PhaseRunning || op.RetryCount == 0 || op.StartedAt == nil {
				continue
			}
			synced := op.SyncedSource(idx)
			pinned := src.Version()
			if synced == nil || pinned == "" || synced.Version() == "" || synced.Version() == pinned {
				continue
			}
			key := string(app.Key()) + "@" + op.StartedAt.UTC().Format(time.RFC3339)
			live[key] = true
			now := d.o.Now()
			d.mu.Lock()
			prev, asked := d.terminated[key]
			d.mu.Unlock()
			if asked && (prev.ok || now.Sub(prev.at) < terminateRetry) {
				continue
			}
			err := d.o.ArgoCD.TerminateOperation(ctx, app)
			d.o.Metrics.terminated(err)
			d.mu.Lock()
			d.terminated[key] = termination{at: now, ok: err == nil}
			d.mu.Unlock()
			if err != nil {
				if !asked {
					d.o.Log.Warn("argocd: cannot end an operation retrying a configVersion the Application is no longer served; asking again every 30 s (metric argocd_operations_terminated_total)",
						"application", string(app.Key()), "retrying", synced.Version(), "served", pinned, "error", err)
				}
				continue
			}
			d.o.Log.Info("argocd: ended an operation retrying a configVersion the Application is no longer served; its automated sync now syncs the one served",
				"application", string(app.Key()), "retrying", synced.Version(), "served", pinned, "retries", op.RetryCount)
		}
	}
	d.mu.Lock()
	for key := range d.terminated {
		if !live[key] {
			delete(d.terminated, key)
		}
	}
	d.mu.Unlock()
}

// event reports a step of r.
func (d *Driver) event(typ string, r rollout.Rollout, reason string) {
	d.o.Metrics.event(typ)
	if d.o.Emit == nil {
		return
	}
	w := r.Current()
	ev := event.Event{
		Type: typ, Time: d.o.Now().UTC(), Layer: r.Layer.String(), Version: r.Target, PreviousVersion: r.Stable,
		Actor: r.Actor, TraceID: r.ID, Reason: reason, Replica: d.o.Replica,
		Rollout: &event.RolloutStatus{Strategy: r.Strategy, State: string(r.State), Stable: r.Stable,
			Wave: min(r.Wave, len(r.Waves)-1) + 1, Waves: len(r.Waves), WaveName: w.Name, Clusters: slices.Clone(w.Clusters)},
	}
	ev.ID = event.ID(typ, r.Layer.String(), r.ID, fmt.Sprint(r.Wave))
	d.o.Emit(ev)
}

// observe sums up each cluster's Applications, records what changed since the last
// record, and sets the cluster metrics. A summary that is settled (Synced and Healthy on a
// configVersion) is recorded at once; any other is recorded when the next reading shows it
// again. Every cluster passes through OutOfSync and Progressing for a moment while it syncs a
// new version, at every publish: recording that moment doubled serve's writes per change (two
// PutItem per cluster) for a state `clusters status` would show for a few seconds, while a
// state that lasts (a failed sync, Degraded health) is still recorded, one reading later.
// Nothing decides on these records (the tracker and the rollout steps judge the readings
// themselves); they are what `clusters status` and `rollout status` show.
func (d *Driver) observe(ctx context.Context, inv *registry.Inventory, byCluster map[string][]*argocd.Application) {
	now := d.o.Now().UTC()
	var changed []store.Observation
	d.mu.Lock()
	d.o.Metrics.resetClusters() // every registered cluster is set again below; deregistered ones go
	for _, c := range inv.Clusters {
		o := summarize(c.Name, byCluster[c.Name], d.o.PluginName)
		o.At, o.Replica = now, d.o.Replica
		d.o.Metrics.cluster(c, o)
		prev, ok := d.observed[c.Name]
		seen, wasSeen := d.unsettled[c.Name]
		delete(d.unsettled, c.Name)
		switch {
		case ok && sameObservation(prev, o):
		case !ok || settled(o) || (wasSeen && sameObservation(seen, o)):
			changed = append(changed, o)
		default:
			d.unsettled[c.Name] = o
		}
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

// sameObservation: a and b report the same (when and by whom aside).
func sameObservation(a, b store.Observation) bool {
	return a.Applications == b.Applications && a.Sync == b.Sync && a.Health == b.Health && a.SyncedVersion == b.SyncedVersion
}

// settled: every Application of the cluster is Synced and Healthy on one configVersion.
func settled(o store.Observation) bool {
	return o.Applications > 0 && o.Sync == "Synced" && o.Health == "Healthy" && o.SyncedVersion != ""
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
	clusterInfo  *prometheus.GaugeVec
	wave         *prometheus.GaugeVec
	steps        *prometheus.CounterVec
	events       *prometheus.CounterVec
	terminations *prometheus.CounterVec
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
			Help: "Rollout events, by type (rollout-started, rollout-wave-completed, rollout-halted, and the sync-failed, degraded and rollout-timeout of a wave's clusters ...)."}, []string{"type"}),
		terminations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "argocd_operations_terminated_total",
			Help: "Argo CD operations ended because they kept retrying a configVersion their Application is no longer served, by outcome (ok, error)."}, []string{"outcome"}),
	}
	reg.MustRegister(m.clusterInfo, m.wave, m.steps, m.events, m.terminations)
	return m
}

func (m *DriverMetrics) resetClusters() {
	if m != nil {
		m.clusterInfo.Reset()
	}
}

func (m *DriverMetrics) cluster(c registry.ClusterInfo, o store.Observation) {
	if m == nil {
		return
	}
	m.clusterInfo.WithLabelValues(c.Name, c.Record.Environment, c.Served.String(), o.SyncedVersion, o.Sync, o.Health).Set(1)
}

func (m *DriverMetrics) setRollouts(inv *registry.Inventory) {
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

func (m *DriverMetrics) terminated(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.terminations.WithLabelValues("error").Inc()
		return
	}
	m.terminations.WithLabelValues("ok").Inc()
}

func (m *DriverMetrics) event(typ string) {
	if m != nil {
		m.events.WithLabelValues(typ).Inc()
	}
}
