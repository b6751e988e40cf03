package registry

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Subscriber is a part of the service that acts on changes of the registry (the ApplicationSet
// annotator, the Argo CD refresher, the rollout tracker and driver, the webhook). A Router
// calls it in order, from the Cache's OnChange, inside a generator request or the watcher: it
// must not block, only hand the work to its own queue.
type Subscriber interface {
	// Loaded is told the first snapshot read: the service started, and publishes made while
	// no replica ran are in it rather than in any change.
	Loaded(cur *Snapshot)
	// Changed is told the head moves and rollout steps between the previous snapshot and cur
	// (never none).
	Changed(cur *Snapshot, changes []Change)
}

// RouterMetrics are what a Router counts; nil fields are not kept.
type RouterMetrics struct {
	// ChangeSeq is the change counter as last read, Clusters the clusters registered.
	ChangeSeq, Clusters prometheus.Gauge
	// Changes counts head moves, by action (publish, rollback).
	Changes *prometheus.CounterVec
}

// Router is the service's event router: its OnChange, the Cache's, hands every new snapshot to
// Prepare, works out what changed since the previous one (Diff), logs each head move and
// rollout step, and tells every Subscriber.
type Router struct {
	// Prepare, when set, is given every new snapshot first (the generator encodes its answers).
	Prepare     func(cur *Snapshot)
	Subscribers []Subscriber
	Metrics     RouterMetrics
	Log         *slog.Logger
	Now         func() time.Time
}

// OnChange is told every new snapshot, in order (old is nil for the first one).
func (r *Router) OnChange(old, cur *Snapshot) {
	if r.Prepare != nil {
		r.Prepare(cur)
	}
	if r.Metrics.ChangeSeq != nil {
		r.Metrics.ChangeSeq.Set(float64(cur.Seq))
	}
	if r.Metrics.Clusters != nil {
		r.Metrics.Clusters.Set(float64(len(cur.Inventory.Clusters)))
	}
	if old == nil {
		r.Log.Info("registry loaded", "clusters", len(cur.Inventory.Clusters), "layers", len(cur.Inventory.Heads), "changeSeq", cur.Seq)
		if n := len(cur.Inventory.Legacy); n > 0 {
			r.Log.Warn("the table holds items at the key layout of an earlier release: they are read, but a rollout there cannot take a step; run `dynamo-cmp table upgrade` with the operators' role (docs/dynamodb.md)", "items", n, "first", cur.Inventory.Legacy[0].String())
		}
		for _, s := range r.Subscribers {
			s.Loaded(cur)
		}
		return
	}
	changes := Diff(old.Inventory, cur.Inventory, r.Now())
	if len(changes) == 0 {
		return
	}
	for _, ch := range changes {
		if ch.Step {
			// The rollout's driver reports its steps; the clusters are told by the subscribers.
			r.Log.Info("rollout step", "layer", ch.Ref.String(), "version", ch.Head.Version, "clusters", len(ch.Clusters), "changeSeq", cur.Seq)
			continue
		}
		if r.Metrics.Changes != nil {
			r.Metrics.Changes.WithLabelValues(ch.Head.Action).Inc()
		}
		r.Log.Info("layer moved", "layer", ch.Ref.String(), "action", ch.Head.Action, "from", ch.From, "to", ch.Head.Version,
			"actor", ch.Head.Actor, "trace", ch.Head.TraceID, "clusters", len(ch.Clusters), "changeSeq", cur.Seq)
	}
	for _, s := range r.Subscribers {
		s.Changed(cur, changes)
	}
}
