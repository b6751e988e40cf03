package registry

import (
	"context"
	"log/slog"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Change is a head move the watcher saw — a publish or a rollback of one layer — or a step
// of a layer's rollout that changed what some of its clusters are served.
type Change struct {
	Ref config.LayerRef
	// Head is the layer's new head (Action, Actor, TraceID ...).
	Head store.Head
	// From is the version the previous snapshot held (0 for a new layer). Several moves
	// between two polls show as one change.
	From int
	// Clusters are the clusters the change reaches, with their new configVersion (for a
	// layer rolled out in waves, only those whose served configVersion changed).
	Clusters []ClusterInfo
	// Before are the same clusters as the previous snapshot registered them (absent when new).
	Before     []ClusterInfo
	DetectedAt time.Time
	// Staged: a rollout in waves decides what the layer's clusters are served (it halts and
	// rolls back on its own, so the per-cluster auto-rollback leaves it alone).
	Staged bool
	// Step: the head did not move; a rollout step (a wave started, a halt) changed what
	// Clusters are served.
	Step bool
}

// Diff returns the head moves and rollout steps between two readings of the registry,
// global first, then environments, then clusters.
func Diff(old, cur *Inventory, now time.Time) []Change {
	var out []Change
	before := make(map[string]ClusterInfo, len(old.Clusters))
	for _, c := range old.Clusters {
		before[c.Name] = c
	}
	for ref, h := range cur.Heads {
		prev, existed := old.Heads[ref]
		moved := !existed || prev.Version != h.Version || !prev.At.Equal(h.At)
		o, n := old.Rollouts[ref], cur.Rollouts[ref]
		stepped := o.ID != n.ID || o.Rev != n.Rev
		if !moved && !stepped {
			continue
		}
		_, liveBefore := old.LiveRollout(ref)
		_, liveNow := cur.LiveRollout(ref)
		staged := liveBefore || liveNow
		ch := Change{Ref: ref, Head: h, From: prev.Version, DetectedAt: now, Staged: staged, Step: !moved}
		for _, c := range cur.Affected(ref, nil) {
			b, ok := before[c.Name]
			if staged && ok && b.Served == c.Served {
				continue
			}
			ch.Clusters = append(ch.Clusters, c)
			if ok {
				ch.Before = append(ch.Before, b)
			}
		}
		if ch.Step && len(ch.Clusters) == 0 {
			continue
		}
		out = append(out, ch)
	}
	config.SortLayerRefs(out, func(c Change) config.LayerRef { return c.Ref })
	return out
}

// Watch calls check every interval until ctx is done: check reads the registry's change
// counter, and the registry when it moved (which is how changes are found). Failures are
// logged once per outage.
func Watch(ctx context.Context, interval time.Duration, check func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		err := check(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			log.Error("watcher: cannot read the registry's change counter; retrying every poll interval", "error", err)
		case err == nil && failing:
			failing = false
			log.Info("watcher: reading the registry again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
