package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// maxChangesPerRollout bounds the head moves remembered for one cluster's rollout.
const maxChangesPerRollout = 16

// tracker follows rollouts: after a change, it reads the Applications of each affected
// cluster from the Argo CD API every StatusInterval until they are all Synced and Healthy on
// the cluster's new configVersion (reported, and recorded as the last known good), or one of
// them fails or goes Degraded (reported, and rolled back when the layer is opted in), or the
// rollout timeout passes.
type tracker struct {
	s    *Server
	argo *argoClient

	mu        sync.Mutex
	rollouts  map[string]*rollout // by cluster
	refreshAt map[appKey]time.Time
	// handled holds the auto-rollback decisions taken ("<layer>@<version>"), so a layer is
	// considered once however many clusters fail.
	handled map[string]bool
	wake    chan struct{}
	// lkgErrors counts failed last-known-good writes (only the first of the silent ones at
	// start is logged: a missing IAM permission would fail them all).
	lkgErrors atomic.Int64
}

// rollout is the following of one cluster to its target configVersion.
type rollout struct {
	cluster string
	target  config.ConfigVersion
	// changes are the head moves that led to target, oldest first.
	changes  []Change
	since    time.Time
	deadline time.Time
	// failed: the failure was reported (it is reported once; success may still follow).
	failed bool
	// baseline rollouts follow the current versions at start: they only record the last
	// known good, silently.
	baseline bool
}

func newTracker(s *Server, a *argoClient) *tracker {
	return &tracker{s: s, argo: a, rollouts: map[string]*rollout{}, refreshAt: map[appKey]time.Time{},
		handled: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (t *tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// baseline follows every cluster at its current version, to learn the last known good
// versions of clusters whose Applications are already Synced and Healthy.
func (t *tracker) baseline(snap *snapshot) {
	now := t.s.opts.Now()
	t.mu.Lock()
	for _, c := range snap.inv.Clusters {
		if _, ok := t.rollouts[c.Name]; ok {
			continue
		}
		t.rollouts[c.Name] = &rollout{cluster: c.Name, target: c.Version, since: now, deadline: now.Add(t.s.opts.RolloutTimeout), baseline: true}
	}
	t.mu.Unlock()
	t.signal()
}

// add starts (or moves on) the rollouts of the clusters changes affect.
func (t *tracker) add(changes []Change) {
	t.mu.Lock()
	for _, ch := range changes {
		light := ch
		light.Clusters, light.Before = nil, nil
		for _, c := range ch.Clusters {
			r := t.rollouts[c.Name]
			if r == nil || r.baseline {
				r = &rollout{cluster: c.Name}
				t.rollouts[c.Name] = r
			}
			r.target = c.Version
			r.changes = append(r.changes, light)
			if len(r.changes) > maxChangesPerRollout {
				r.changes = r.changes[len(r.changes)-maxChangesPerRollout:]
			}
			r.since = ch.DetectedAt
			r.deadline = ch.DetectedAt.Add(t.s.opts.RolloutTimeout)
			r.failed = false
		}
	}
	t.mu.Unlock()
	t.signal()
}

// refreshed records that a hard refresh of app started at started and completed.
func (t *tracker) refreshed(app appKey, started time.Time) {
	t.mu.Lock()
	if started.After(t.refreshAt[app]) {
		t.refreshAt[app] = started
	}
	t.mu.Unlock()
	t.signal()
}

func (t *tracker) active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rollouts)
}

func (t *tracker) run(ctx context.Context) {
	failing := false
	for {
		if t.active() == 0 {
			if !waitFor(ctx, t.wake, time.Time{}, t.s.opts.Now) {
				return
			}
			continue
		}
		err := t.evaluate(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			t.s.log.Warn("argocd: cannot read Applications; rollouts are followed again when it answers", "error", err)
		case err == nil && failing:
			failing = false
			t.s.log.Info("argocd: reading Applications again")
		}
		tm := time.NewTimer(t.s.opts.StatusInterval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-tm.C:
		}
	}
}

// outcome is a decision of one evaluation, carried out without the lock.
type outcome struct {
	kind    string // EventSynced, EventDegraded, EventSyncFailed, EventRolloutTimeout
	r       rollout
	apps    []AppStatus
	reason  string
	silent  bool
	retryFn func() // undoes the decision when carrying it out failed transiently
}

// evaluate reads the Applications once and judges every rollout.
func (t *tracker) evaluate(ctx context.Context) error {
	apps, err := t.argo.listApplications(ctx)
	if err != nil {
		return err
	}
	plugin := t.s.opts.PluginName
	byCluster := map[string][]*application{}
	for i := range apps {
		if c := apps[i].cluster(plugin); c != "" {
			byCluster[c] = append(byCluster[c], &apps[i])
		}
	}
	now := t.s.opts.Now()
	var outs []outcome

	t.mu.Lock()
	for app, at := range t.refreshAt {
		if now.Sub(at) > t.s.opts.RolloutTimeout {
			delete(t.refreshAt, app)
		}
	}
	for name, r := range t.rollouts {
		list := byCluster[name]
		if len(list) == 0 {
			// A cluster without Applications has nothing to follow. After a change its
			// Applications may still be on their way (a new cluster): wait until the deadline.
			if r.baseline || now.After(r.deadline) {
				delete(t.rollouts, name)
			}
			continue
		}
		sort.Slice(list, func(i, j int) bool { return list[i].key() < list[j].key() })
		statuses := make([]AppStatus, 0, len(list))
		var goods, fails int
		var failReasons []string
		degraded := false
		for _, app := range list {
			v, st := judge(app, plugin, r.target, r.since, t.refreshAt[app.key()])
			statuses = append(statuses, st)
			switch v {
			case good:
				goods++
			case failed:
				fails++
				failReasons = append(failReasons, st.Namespace+"/"+st.Name+": "+st.Message)
				if st.Health == "Degraded" {
					degraded = true
				}
			}
		}
		switch {
		case goods == len(list):
			outs = append(outs, outcome{kind: EventSynced, r: r.copy(), apps: statuses, silent: r.baseline})
			delete(t.rollouts, name)
		case fails > 0 && !r.failed && !r.baseline:
			r.failed = true
			kind := EventSyncFailed
			if degraded {
				kind = EventDegraded
			}
			rr := r
			outs = append(outs, outcome{kind: kind, r: r.copy(), apps: statuses, reason: strings.Join(failReasons, "; "),
				retryFn: func() { t.mu.Lock(); rr.failed = false; t.mu.Unlock() }})
		case now.After(r.deadline):
			delete(t.rollouts, name)
			if !r.baseline {
				outs = append(outs, outcome{kind: EventRolloutTimeout, r: r.copy(), apps: statuses,
					reason: fmt.Sprintf("the Applications did not reach Synced and Healthy on %s within %s", r.target, t.s.opts.RolloutTimeout)})
			}
		}
	}
	t.mu.Unlock()

	for _, o := range outs {
		t.carryOut(ctx, o)
	}
	return nil
}

func (r *rollout) copy() rollout {
	c := *r
	c.changes = append([]Change(nil), r.changes...)
	return c
}

func (t *tracker) carryOut(ctx context.Context, o outcome) {
	m := t.s.metrics
	switch o.kind {
	case EventSynced:
		lkg := store.LastKnownGood{Cluster: o.r.cluster, Version: o.r.target, At: t.s.opts.Now()}
		if n := len(o.r.changes); n > 0 {
			lkg.TraceID = o.r.changes[n-1].Head.TraceID
		}
		sctx, cancel := context.WithTimeout(ctx, t.s.opts.StoreTimeout)
		written, err := t.s.opts.Store.PutLastKnownGood(sctx, lkg)
		cancel()
		switch {
		case err != nil:
			m.lkgWrites.WithLabelValues("error").Inc()
			if t.lkgErrors.Add(1) == 1 || !o.silent {
				t.s.log.Error("cannot record the last known good version (the metric last_known_good_writes_total counts further failures at start)",
					"cluster", o.r.cluster, "configVersion", o.r.target.String(), "error", err)
			}
		case written:
			m.lkgWrites.WithLabelValues("written").Inc()
		default:
			m.lkgWrites.WithLabelValues("superseded").Inc()
		}
		if o.silent {
			return
		}
		m.rollouts.WithLabelValues("synced").Inc()
		t.s.log.Info("rollout done: Synced and Healthy", "cluster", o.r.cluster, "configVersion", o.r.target.String(), "applications", len(o.apps))
		ev := t.clusterEvent(o, EventSynced)
		ev.LastKnownGood = o.r.target.String()
		t.emit(ev)
	case EventDegraded, EventSyncFailed:
		m.rollouts.WithLabelValues("failed").Inc()
		t.s.log.Warn("rollout failed", "cluster", o.r.cluster, "configVersion", o.r.target.String(), "reason", o.reason)
		if len(t.s.opts.AutoRollback.Layers) > 0 {
			if retry := t.autoRollback(ctx, o); retry && o.retryFn != nil {
				o.retryFn()
			}
		}
		t.emit(t.clusterEvent(o, o.kind))
	case EventRolloutTimeout:
		m.rollouts.WithLabelValues("timeout").Inc()
		t.s.log.Warn("rollout timed out", "cluster", o.r.cluster, "configVersion", o.r.target.String())
		t.emit(t.clusterEvent(o, EventRolloutTimeout))
	}
}

func (t *tracker) emit(ev Event) {
	if t.s.hooks != nil {
		t.s.hooks.enqueue(ev)
	}
}

// clusterEvent is an event about one cluster's rollout.
func (t *tracker) clusterEvent(o outcome, typ string) Event {
	ev := Event{Type: typ, Time: t.s.opts.Now().UTC(), Cluster: o.r.cluster, ConfigVersion: o.r.target.String(),
		Reason: o.reason, ArgoCD: &ArgoCDStatus{Applications: o.apps}, Replica: t.s.opts.Replica}
	at := ""
	if n := len(o.r.changes); n > 0 {
		last := o.r.changes[n-1]
		ev.Layer, ev.Action, ev.Version, ev.PreviousVersion = last.Ref.String(), last.Head.Action, last.Head.Version, last.Head.Previous
		ev.TraceID, ev.Actor, ev.Message = last.Head.TraceID, last.Head.Actor, last.Head.Message
		at = strconv.FormatInt(last.Head.At.UnixNano(), 10)
	}
	ev.ID = eventID(typ, o.r.cluster, o.r.target.String(), at)
	return ev
}

// guardedStore lets ops.Rollback move a layer's head only from the version seen failing: if
// anyone published or rolled back meanwhile, the rollback is a conflict and nothing moves.
type guardedStore struct {
	Store
	ref  config.LayerRef
	from int
}

func (g guardedStore) Rollback(ctx context.Context, in store.RollbackInput) (store.Head, error) {
	if in.Ref != g.ref || in.From != g.from {
		return store.Head{}, &store.ConflictError{Ref: in.Ref, Expected: g.from, Actual: in.From}
	}
	return g.Store.Rollback(ctx, in)
}

// autoRollback rolls back the opted-in layers whose publish led to a failed rollout, to their
// version in the cluster's last known good configVersion. It reports whether the decision
// should be taken again later (a transient failure).
func (t *tracker) autoRollback(ctx context.Context, o outcome) (retry bool) {
	opts := t.s.opts.AutoRollback
	now := t.s.opts.Now()
	for _, ch := range o.r.changes {
		if ch.Head.Action != store.ActionPublish || !opts.Layers.Match(ch.Ref) {
			continue
		}
		key := ch.Ref.String() + "@" + strconv.Itoa(ch.Head.Version)
		t.mu.Lock()
		done := t.handled[key]
		t.handled[key] = true
		if len(t.handled) > 10000 {
			t.handled = map[string]bool{key: true}
		}
		t.mu.Unlock()
		if done {
			continue
		}
		ev := Event{Time: now.UTC(), Cluster: o.r.cluster, Layer: ch.Ref.String(), Action: store.ActionRollback,
			PreviousVersion: ch.Head.Version, ConfigVersion: o.r.target.String(), TraceID: ch.Head.TraceID,
			ArgoCD: &ArgoCDStatus{Applications: o.apps}, Replica: t.s.opts.Replica}
		skip := func(reason string) {
			t.s.metrics.rollbacks.WithLabelValues("skipped").Inc()
			t.s.log.Warn("auto-rollback skipped", "layer", key, "cluster", o.r.cluster, "reason", reason)
			ev.Type, ev.Reason = EventAutoRollbackSkipped, reason
			ev.ID = eventID(ev.Type, key)
			t.emit(ev)
		}
		if age := now.Sub(ch.DetectedAt); age > opts.Window {
			skip(fmt.Sprintf("the failure came %s after the publish, outside the %s window", age.Round(time.Second), opts.Window))
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, t.s.opts.StoreTimeout)
		lkgs, err := t.s.opts.Store.LastKnownGood(sctx, o.r.cluster)
		cancel()
		if err != nil {
			t.forget(key)
			t.s.metrics.rollbacks.WithLabelValues("error").Inc()
			t.s.log.Error("auto-rollback: cannot read the last known good version; trying again", "layer", key, "cluster", o.r.cluster, "error", err)
			retry = true
			continue
		}
		lkg, ok := lkgs[o.r.cluster]
		if !ok {
			skip(fmt.Sprintf("no last known good configVersion is recorded for cluster %s", o.r.cluster))
			continue
		}
		ev.LastKnownGood = lkg.Version.String()
		target := lkg.Version.Of(ch.Ref)
		switch {
		case target <= 0:
			skip(fmt.Sprintf("the last known good configVersion %s of cluster %s has no version of %s", lkg.Version, o.r.cluster, ch.Ref))
			continue
		case target >= ch.Head.Version:
			skip(fmt.Sprintf("%s version %d is not newer than its version in the last known good configVersion %s", ch.Ref, ch.Head.Version, lkg.Version))
			continue
		}
		trace := newTraceID()
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, err := ops.Rollback(rctx, guardedStore{Store: t.s.opts.Store, ref: ch.Ref, from: ch.Head.Version}, ops.RollbackRequest{
			Ref: ch.Ref, To: target, Actor: AutoRollbackActor, TraceID: trace,
			Message: fmt.Sprintf("automatic rollback: cluster %s failed on %s within %s of the publish of %s version %d (trace %s): %s",
				o.r.cluster, o.r.target, opts.Window, ch.Ref, ch.Head.Version, ch.Head.TraceID, firstLine(o.reason)),
		})
		cancel()
		var refused *ops.RefusedError
		switch {
		case err == nil && res.Version == 0:
			t.s.metrics.rollbacks.WithLabelValues("skipped").Inc()
			t.s.log.Info("auto-rollback: the layer is already at its last known good version (another replica rolled it back)", "layer", key, "to", target)
		case err == nil:
			t.s.metrics.rollbacks.WithLabelValues("done").Inc()
			t.s.log.Warn("auto-rollback done", "layer", ch.Ref.String(), "from", ch.Head.Version, "to", target, "cluster", o.r.cluster, "trace", trace)
			ev.Type, ev.Version, ev.TraceID, ev.Actor = EventAutoRollback, target, trace, AutoRollbackActor
			ev.Reason = fmt.Sprintf("cluster %s: %s", o.r.cluster, o.reason)
			ev.Message = fmt.Sprintf("rolled back from the publish traced %s", ch.Head.TraceID)
			ev.ID = eventID(ev.Type, key)
			t.emit(ev)
		case errors.Is(err, store.ErrConflict):
			t.s.metrics.rollbacks.WithLabelValues("skipped").Inc()
			t.s.log.Info("auto-rollback: the layer moved since the failing publish; not rolling back", "layer", key, "error", err)
		case errors.As(err, &refused):
			t.s.metrics.rollbacks.WithLabelValues("refused").Inc()
			t.s.log.Error("auto-rollback refused", "layer", key, "to", target, "error", err)
			ev.Type, ev.Version, ev.Reason = EventAutoRollbackFailed, target, err.Error()
			ev.ID = eventID(ev.Type, key)
			t.emit(ev)
		default:
			t.forget(key)
			retry = true
			t.s.metrics.rollbacks.WithLabelValues("error").Inc()
			t.s.log.Error("auto-rollback failed; trying again", "layer", key, "to", target, "error", err)
		}
	}
	return retry
}

func (t *tracker) forget(key string) {
	t.mu.Lock()
	delete(t.handled, key)
	t.mu.Unlock()
}

// newTraceID returns 16 random hex digits naming one automatic rollback.
func newTraceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
