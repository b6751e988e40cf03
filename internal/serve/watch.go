package serve

import (
	"context"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Change is a head move the watcher saw: a publish or a rollback of one layer.
type Change struct {
	Ref config.LayerRef
	// Head is the layer's new head (Action, Actor, TraceID ...).
	Head store.Head
	// From is the version the previous snapshot held (0 for a new layer). Several moves
	// between two polls show as one change.
	From int
	// Clusters are the clusters the layer affects, with their new configVersion.
	Clusters []ops.ClusterInfo
	// Before are the same clusters as the previous snapshot registered them (absent when new).
	Before     []ops.ClusterInfo
	DetectedAt time.Time
}

// diffSnapshots returns the head moves between two snapshots, global first, then
// environments, then clusters.
func diffSnapshots(old, cur *snapshot, now time.Time) []Change {
	var out []Change
	before := make(map[string]ops.ClusterInfo, len(old.inv.Clusters))
	for _, c := range old.inv.Clusters {
		before[c.Name] = c
	}
	for ref, h := range cur.inv.Heads {
		prev, existed := old.inv.Heads[ref]
		if existed && prev.Version == h.Version && prev.At.Equal(h.At) {
			continue
		}
		ch := Change{Ref: ref, Head: h, From: prev.Version, Clusters: cur.inv.Affected(ref, nil), DetectedAt: now}
		for _, c := range ch.Clusters {
			if b, ok := before[c.Name]; ok {
				ch.Before = append(ch.Before, b)
			}
		}
		out = append(out, ch)
	}
	config.SortLayerRefs(out, func(c Change) config.LayerRef { return c.Ref })
	return out
}

// watch reads the change counter every poll interval until ctx is done. A moved counter
// makes the cache read the registry, which calls onSnapshot.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		_, _, err := s.cache.check(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			s.log.Error("watcher: cannot read the registry's change counter; retrying every poll interval", "error", err)
		case err == nil && failing:
			failing = false
			s.log.Info("watcher: reading the registry again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// onSnapshot is told about every new registry snapshot. It only hands work to the queues of
// the notifiers: it runs inside a generator request or the watcher and must not block.
func (s *Server) onSnapshot(old, cur *snapshot) {
	s.metrics.changeSeq.Set(float64(cur.seq))
	s.metrics.clusters.Set(float64(len(cur.inv.Clusters)))
	if old == nil {
		s.log.Info("registry loaded", "clusters", len(cur.inv.Clusters), "layers", len(cur.inv.Heads), "changeSeq", cur.seq)
		if s.annot != nil {
			// Publishes made while no replica ran reach the ApplicationSets now.
			s.annot.add(true, nil)
		}
		if s.track != nil {
			s.track.baseline(cur)
		}
		return
	}
	changes := diffSnapshots(old, cur, s.opts.Now())
	if len(changes) == 0 {
		return
	}
	var clusters []ops.ClusterInfo
	for _, ch := range changes {
		s.metrics.changes.WithLabelValues(ch.Head.Action).Inc()
		s.log.Info("layer moved", "layer", ch.Ref.String(), "action", ch.Head.Action, "from", ch.From, "to", ch.Head.Version,
			"actor", ch.Head.Actor, "trace", ch.Head.TraceID, "clusters", len(ch.Clusters), "changeSeq", cur.seq)
		if s.hooks != nil {
			s.hooks.enqueue(s.changeEvent(ch))
		}
		clusters = append(clusters, ch.Clusters...)
		clusters = append(clusters, ch.Before...)
	}
	if s.annot != nil {
		s.annot.add(false, clusters)
	}
	if s.track != nil {
		s.track.add(changes)
	}
	if s.refr != nil {
		s.refr.add(changes)
	}
}
