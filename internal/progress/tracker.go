package progress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
)

// Defaults of the tracker's options.
const (
	DefaultStatusInterval = 5 * time.Second
	DefaultRolloutTimeout = 15 * time.Minute
)

// AutoRollbackActor is the actor of the audit records of automatic rollbacks.
const AutoRollbackActor = "dynamo-cmp serve (auto-rollback)"

// Store is what the tracker needs of the store: the last-known-good records, and what
// ops.Rollback needs.
type Store interface {
	ops.Store
	LastKnownGood(ctx context.Context, clusters ...string) (map[string]store.LastKnownGood, error)
	PutLastKnownGood(ctx context.Context, lkg store.LastKnownGood) (bool, error)
}

// Applications is how the Applications are read from the Argo CD API (*argocd.Client).
type Applications interface {
	ListApplications(ctx context.Context) ([]argocd.Application, error)
}

// Options configure a Tracker.
type Options struct {
	Store Store
	// State holds the rollouts between readings (nil: a MemoryState).
	State State
	// Emit receives the events (nil: none are sent). It must not block.
	Emit func(event.Event)
	// PluginName is the CMP name the Applications use.
	PluginName string
	// RolloutTimeout ends the following of a rollout that never settles.
	RolloutTimeout time.Duration
	// StoreTimeout bounds each DynamoDB call.
	StoreTimeout time.Duration
	AutoRollback AutoRollbackOptions
	// Replica names this process in events.
	Replica string
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *Metrics
}

// Tracker follows rollouts: after a change, it judges the Applications of each affected
// cluster, on every reading of the Driver (every status interval while it follows one),
// until they are all Synced and Healthy on the cluster's new configVersion (reported, and
// recorded as the last known good), or one of them fails or goes Degraded (reported, and
// rolled back when the layer is opted in), or the rollout timeout passes. It reports only
// on the configVersion the cluster is served at that reading, and leaves the failures of the
// clusters of a wave in progress to the Driver, which reports them with the step they cause.
type Tracker struct {
	o     Options
	state State
	wake  chan struct{}
	// lkgErrors counts failed last-known-good writes (only the first of the silent ones at
	// start is logged: a missing IAM permission would fail them all).
	lkgErrors atomic.Int64
	// signaled is when the tracker last asked for a reading (Unix nanoseconds of Now): a
	// change to follow, or a hard refresh done. The Driver's next reading starts after it.
	signaled atomic.Int64
}

// New returns a tracker; Run does its work.
func New(o Options) *Tracker {
	if o.State == nil {
		o.State = NewMemoryState()
	}
	if o.RolloutTimeout <= 0 {
		o.RolloutTimeout = DefaultRolloutTimeout
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
	if o.AutoRollback.Window <= 0 {
		o.AutoRollback.Window = DefaultRollbackWindow
	}
	return &Tracker{o: o, state: o.State, wake: make(chan struct{}, 1)}
}

func (t *Tracker) signal() {
	t.signaled.Store(t.o.Now().UnixNano())
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// signaledAt is when the tracker last asked for a reading (zero: never).
func (t *Tracker) signaledAt() time.Time {
	if n := t.signaled.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Baseline follows every cluster of inv at its current version, to learn the last known
// good versions of clusters whose Applications are already Synced and Healthy.
func (t *Tracker) Baseline(inv *registry.Inventory) {
	t.state.Baseline(inv.Clusters, t.o.Now(), t.o.RolloutTimeout)
	t.signal()
}

// Add starts (or moves on) the rollouts of the clusters changes affect.
func (t *Tracker) Add(changes []registry.Change) {
	t.state.Start(changes, t.o.RolloutTimeout)
	t.signal()
}

var _ registry.Subscriber = (*Tracker)(nil)

// Loaded starts following every registered cluster, silently, at its current version
// (Baseline).
func (t *Tracker) Loaded(cur *registry.Snapshot) { t.Baseline(cur.Inventory) }

// Changed follows the clusters the changes reach (Add).
func (t *Tracker) Changed(_ *registry.Snapshot, changes []registry.Change) { t.Add(changes) }

// Refreshed records that a hard refresh of app started at started and completed.
func (t *Tracker) Refreshed(app argocd.Key, started time.Time) {
	t.state.Refreshed(app, started)
	t.signal()
}

// outcome is a decision of one evaluation, carried out without the lock.
type outcome struct {
	kind    string // event.Synced, event.Degraded, event.SyncFailed, event.RolloutTimeout
	r       Track
	apps    []event.AppStatus
	reason  string
	silent  bool
	retryFn func() // undoes the decision when carrying it out failed transiently
}

// evaluate judges every rollout followed on one reading of the registry (inv) and the
// Applications (byCluster). The failures of the clusters in judged (those of a wave in
// progress) are the Driver's to report; so are, until the change that moved them reaches
// the tracker, those of a cluster no longer served the configVersion followed.
func (t *Tracker) evaluate(ctx context.Context, inv *registry.Inventory, byCluster map[string][]*argocd.Application, judged map[string]bool) {
	plugin := t.o.PluginName
	served := make(map[string]string, len(inv.Clusters))
	for _, c := range inv.Clusters {
		served[c.Name] = c.Served.String()
	}
	now := t.o.Now()
	var outs []outcome

	t.state.PruneRefreshes(now.Add(-t.o.RolloutTimeout))
	for _, r := range t.state.Tracks() {
		if v, ok := served[r.Cluster]; ok && v != r.Target.String() {
			continue // the cluster is no longer served the version followed: its change is on its way
		}
		list := byCluster[r.Cluster]
		if len(list) == 0 {
			// A cluster without Applications has nothing to follow yet. Its Applications may
			// be on their way: a new cluster after a change, or every cluster when serve starts
			// with Argo CD (the ApplicationSet creates them after the baseline was taken, and a
			// cluster without a last known good is never rolled back). Wait until the deadline.
			if now.After(r.Deadline) {
				t.state.End(r)
			}
			continue
		}
		j := judgeCluster(list, plugin, r.Target, r.Since, t.state.RefreshedAt)
		statuses, goods, fails := j.apps, j.goods, len(j.failures)
		var failReasons []string
		degraded := false
		for _, st := range j.failures {
			failReasons = append(failReasons, st.Namespace+"/"+st.Name+": "+st.Message)
			if st.Health == "Degraded" {
				degraded = true
			}
		}
		switch {
		case goods == len(list):
			outs = append(outs, outcome{kind: event.Synced, r: r, apps: statuses, silent: r.Baseline})
			t.state.End(r)
		case judged[r.Cluster]:
			// A cluster of a wave in progress: the Driver reports its failure or timeout.
		case fails > 0 && !r.Failed && !r.Baseline:
			if !t.state.SetFailed(r, true) {
				continue
			}
			kind := event.SyncFailed
			if degraded {
				kind = event.Degraded
			}
			rr := r
			outs = append(outs, outcome{kind: kind, r: r, apps: statuses, reason: strings.Join(failReasons, "; "),
				retryFn: func() { t.state.SetFailed(rr, false) }})
		case now.After(r.Deadline):
			t.state.End(r)
			if !r.Baseline {
				outs = append(outs, outcome{kind: event.RolloutTimeout, r: r, apps: statuses,
					reason: fmt.Sprintf("the Applications did not reach Synced and Healthy on %s within %s", r.Target, t.o.RolloutTimeout)})
			}
		}
	}

	for _, o := range outs {
		t.carryOut(ctx, o)
	}
}

func (t *Tracker) carryOut(ctx context.Context, o outcome) {
	m := t.o.Metrics
	switch o.kind {
	case event.Synced:
		lkg := store.LastKnownGood{Cluster: o.r.Cluster, Version: o.r.Target, At: t.o.Now()}
		if n := len(o.r.Changes); n > 0 {
			lkg.TraceID = o.r.Changes[n-1].Head.TraceID
		}
		sctx, cancel := context.WithTimeout(ctx, t.o.StoreTimeout)
		written, err := t.o.Store.PutLastKnownGood(sctx, lkg)
		cancel()
		switch {
		case err != nil:
			m.LKGWrites.WithLabelValues("error").Inc()
			if t.lkgErrors.Add(1) == 1 || !o.silent {
				t.o.Log.Error("cannot record the last known good version (the metric last_known_good_writes_total counts further failures at start)",
					"cluster", o.r.Cluster, "configVersion", o.r.Target.String(), "error", err)
			}
		case written:
			m.LKGWrites.WithLabelValues("written").Inc()
		default:
			m.LKGWrites.WithLabelValues("superseded").Inc()
		}
		if o.silent {
			return
		}
		m.Rollouts.WithLabelValues("synced").Inc()
		t.o.Log.Info("rollout done: Synced and Healthy", "cluster", o.r.Cluster, "configVersion", o.r.Target.String(), "applications", len(o.apps))
		ev := t.clusterEvent(o, event.Synced)
		ev.LastKnownGood = o.r.Target.String()
		t.emit(ev)
	case event.Degraded, event.SyncFailed:
		m.Rollouts.WithLabelValues("failed").Inc()
		t.o.Log.Warn("rollout failed", "cluster", o.r.Cluster, "configVersion", o.r.Target.String(), "reason", o.reason)
		// The failure is queued before the rollback it causes: the webhook delivers in order.
		t.emit(t.clusterEvent(o, o.kind))
		if len(t.o.AutoRollback.Layers) > 0 {
			if retry := t.autoRollback(ctx, o); retry && o.retryFn != nil {
				o.retryFn()
			}
		}
	case event.RolloutTimeout:
		m.Rollouts.WithLabelValues("timeout").Inc()
		t.o.Log.Warn("rollout timed out", "cluster", o.r.Cluster, "configVersion", o.r.Target.String())
		t.emit(t.clusterEvent(o, event.RolloutTimeout))
	}
}

func (t *Tracker) emit(ev event.Event) {
	if t.o.Emit != nil {
		t.o.Emit(ev)
	}
}

// clusterEvent is an event about one cluster's rollout.
func (t *Tracker) clusterEvent(o outcome, typ string) event.Event {
	ev := event.Event{Type: typ, Time: t.o.Now().UTC(), Cluster: o.r.Cluster, ConfigVersion: o.r.Target.String(),
		Reason: o.reason, ArgoCD: &event.ArgoCDStatus{Applications: o.apps}, Replica: t.o.Replica}
	at := ""
	if n := len(o.r.Changes); n > 0 {
		last := o.r.Changes[n-1]
		ev.Layer, ev.Action, ev.Version, ev.PreviousVersion = last.Ref.String(), last.Head.Action, last.Head.Version, last.Head.Previous
		ev.TraceID, ev.Actor, ev.Message = last.Head.TraceID, last.Head.Actor, last.Head.Message
		at = strconv.FormatInt(last.Head.At.UnixNano(), 10)
		// The version of the layer the cluster is on: a halted or aborted rollout serves its
		// stable version under the head it halted, a move back from the head's version.
		if v := o.r.Target.Of(last.Ref); v != last.Head.Version {
			ev.Action, ev.Version, ev.PreviousVersion = store.ActionRollback, v, last.Head.Version
			if from := o.r.From.Of(last.Ref); from != 0 {
				ev.PreviousVersion = from
			}
		}
	}
	ev.ID = event.ID(typ, o.r.Cluster, o.r.Target.String(), at)
	return ev
}

// autoRollback rolls back the opted-in layers whose publish led to a failed rollout, to their
// version in the cluster's last known good configVersion. It reports whether the decision
// should be taken again later (a transient failure).
func (t *Tracker) autoRollback(ctx context.Context, o outcome) (retry bool) {
	opts := t.o.AutoRollback
	now := t.o.Now()
	for _, ch := range o.r.Changes {
		// A layer rolled out in waves halts and rolls back with its rollout (Driver).
		if ch.Head.Action != store.ActionPublish || ch.Staged || !opts.Layers.Match(ch.Ref) {
			continue
		}
		key := ch.Ref.String() + "@" + strconv.Itoa(ch.Head.Version)
		if !t.state.Claim(key) {
			continue
		}
		ev := event.Event{Time: now.UTC(), Cluster: o.r.Cluster, Layer: ch.Ref.String(), Action: store.ActionRollback,
			PreviousVersion: ch.Head.Version, ConfigVersion: o.r.Target.String(), TraceID: ch.Head.TraceID,
			ArgoCD: &event.ArgoCDStatus{Applications: o.apps}, Replica: t.o.Replica}
		skip := func(reason string) {
			t.o.Metrics.Rollbacks.WithLabelValues("skipped").Inc()
			t.o.Log.Warn("auto-rollback skipped", "layer", key, "cluster", o.r.Cluster, "reason", reason)
			ev.Type, ev.Reason = event.AutoRollbackSkipped, reason
			ev.ID = event.ID(ev.Type, key)
			t.emit(ev)
		}
		if age := now.Sub(ch.DetectedAt); age > opts.Window {
			skip(fmt.Sprintf("the failure came %s after the publish, outside the %s window", age.Round(time.Second), opts.Window))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, t.o.StoreTimeout)
		lkgs, err := t.o.Store.LastKnownGood(sctx, o.r.Cluster)
		cancel()
		if err != nil {
			t.forget(key)
			t.o.Metrics.Rollbacks.WithLabelValues("error").Inc()
			t.o.Log.Error("auto-rollback: cannot read the last known good version; trying again", "layer", key, "cluster", o.r.Cluster, "error", err)
			retry = true
			continue
		}
		lkg, ok := lkgs[o.r.Cluster]
		if !ok {
			skip(fmt.Sprintf("no last known good configVersion is recorded for cluster %s", o.r.Cluster))
			continue
		}
		ev.LastKnownGood = lkg.Version.String()
		target := lkg.Version.Of(ch.Ref)
		switch {
		case target <= 0:
			skip(fmt.Sprintf("the last known good configVersion %s of cluster %s has no version of %s", lkg.Version, o.r.Cluster, ch.Ref))
			continue
		case target >= ch.Head.Version:
			skip(fmt.Sprintf("%s version %d is not newer than its version in the last known good configVersion %s", ch.Ref, ch.Head.Version, lkg.Version))
			continue
		}
		trace := traceid.New()
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		from := ch.Head.Version
		res, err := ops.Rollback(rctx, t.o.Store, ops.RollbackRequest{
			Ref: ch.Ref, To: target, Base: &from, Actor: AutoRollbackActor, TraceID: trace,
			Message: fmt.Sprintf("automatic rollback: cluster %s failed on %s within %s of the publish of %s version %d (trace %s): %s",
				o.r.Cluster, o.r.Target, opts.Window, ch.Ref, ch.Head.Version, ch.Head.TraceID, firstLine(o.reason)),
		})
		cancel()
		var refused *ops.RefusedError
		var conflict *store.ConflictError
		switch {
		case err == nil && res.Version == 0, errors.As(err, &conflict) && conflict.Actual == target:
			t.o.Metrics.Rollbacks.WithLabelValues("skipped").Inc()
			t.o.Log.Info("auto-rollback: the layer is already at its last known good version (another replica rolled it back)", "layer", key, "to", target)
		case err == nil:
			t.o.Metrics.Rollbacks.WithLabelValues("done").Inc()
			t.o.Log.Warn("auto-rollback done", "layer", ch.Ref.String(), "from", ch.Head.Version, "to", target, "cluster", o.r.Cluster, "trace", trace)
			ev.Type, ev.Version, ev.TraceID, ev.Actor = event.AutoRollback, target, trace, AutoRollbackActor
			ev.Reason = fmt.Sprintf("cluster %s: %s", o.r.Cluster, o.reason)
			ev.Message = fmt.Sprintf("rolled back from the publish traced %s", ch.Head.TraceID)
			ev.ID = event.ID(ev.Type, key)
			t.emit(ev)
		case errors.Is(err, store.ErrConflict):
			t.o.Metrics.Rollbacks.WithLabelValues("skipped").Inc()
			t.o.Log.Info("auto-rollback: the layer moved since the failing publish; not rolling back", "layer", key, "error", err)
		case errors.As(err, &refused):
			t.o.Metrics.Rollbacks.WithLabelValues("refused").Inc()
			t.o.Log.Error("auto-rollback refused", "layer", key, "to", target, "error", err)
			ev.Type, ev.Version, ev.Reason = event.AutoRollbackFailed, target, err.Error()
			ev.ID = event.ID(ev.Type, key)
			t.emit(ev)
		default:
			t.forget(key)
			retry = true
			t.o.Metrics.Rollbacks.WithLabelValues("error").Inc()
			t.o.Log.Error("auto-rollback failed; trying again", "layer", key, "to", target, "error", err)
		}
	}
	return retry
}

func (t *Tracker) forget(key string) { t.state.Forget(key) }

// logOutage logs the first failure of an outage (down) and its end (up), and returns whether
// the outage goes on.
func logOutage(log *slog.Logger, failing bool, err error, down, up string) bool {
	switch {
	case err != nil && !failing:
		log.Warn(down, "error", err)
	case err == nil && failing:
		log.Info(up)
	}
	return err != nil
}
