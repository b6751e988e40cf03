package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// A publish or rollback must leave every cluster it affects renderable in every configVersion
// the ApplicationSet generator may serve it afterwards, not only at the layer heads: while a
// rollout of a global or environment layer is live, the clusters it has not reached (all of
// them once it halts) are served its stable version, the others its target. This file works
// out those configVersions and validates each.

// change is a publish or rollback as validation sees it.
type change struct {
	// layer is what the changed layer becomes: the published entries, or the version rolled
	// back to.
	layer config.Layer
	// known: layer.Version is the version number (a rollback); a publish's number is claimed
	// only when it writes.
	known bool
	// staged: the publish starts a rollout, whose clusters are served stable (the version the
	// rollout replaces) until their wave starts, and again if it halts.
	staged bool
	stable int
}

// servedLayer is one version of one layer the generator may serve a cluster.
type servedLayer struct {
	ref     config.LayerRef
	version int
	// proposed: the changed layer as the change makes it; unnumbered: a publish's, whose
	// version number is claimed only when it writes.
	proposed, unnumbered bool
	// note says why this version may be served ("" for a head).
	note string
}

// mix is one configVersion the generator may serve a cluster after a change.
type mix struct {
	layers [3]servedLayer // global, env/<environment>, cluster/<name>
}

// String is the configVersion, the changed layer's part "(new)" when its number is not known
// yet (g1.e(new).c1), followed by why it is served when a rollout decides it.
func (m mix) String() string {
	var b strings.Builder
	var notes []string
	for i, l := range m.layers {
		b.WriteByte("gec"[i])
		if l.unnumbered {
			b.WriteString("(new)")
		} else {
			b.WriteString(strconv.Itoa(l.version))
		}
		if i < 2 {
			b.WriteByte('.')
		}
		if l.note != "" {
			notes = append(notes, l.note)
		}
	}
	if len(notes) > 0 {
		b.WriteString(" while " + strings.Join(notes, " and "))
	}
	return b.String()
}

// key identifies the versions of a mix (notes aside).
func (m mix) key() string {
	var b strings.Builder
	for _, l := range m.layers {
		fmt.Fprintf(&b, "%d/%t/%t;", l.version, l.proposed, l.unnumbered)
	}
	return b.String()
}

// rolloutNote describes a live rollout for the configVersions it serves.
func rolloutNote(r rollout.Rollout) string {
	switch r.State {
	case rollout.Halted, rollout.Aborted:
		return fmt.Sprintf("the rollout of %s is %s (stable %d served)", r.Layer, r.State, r.Stable)
	case rollout.Paused:
		return fmt.Sprintf("the rollout of %s is paused in wave %d/%d (stable %d, target %d)", r.Layer, min(r.Wave, len(r.Waves)-1)+1, len(r.Waves), r.Stable, r.Target)
	}
	return fmt.Sprintf("the rollout of %s is in wave %d/%d (stable %d, target %d)", r.Layer, min(r.Wave, len(r.Waves)-1)+1, len(r.Waves), r.Stable, r.Target)
}

// servable returns every configVersion the generator may serve cluster c once ch is made:
// for the changed layer its new version (and the new rollout's stable version when the
// publish is staged); for each other global or environment layer with a live rollout, the
// rollout's stable and target versions (only stable once it halted or was aborted); otherwise
// the layer's head.
func servable(inv *registry.Inventory, ch change, c registry.ClusterInfo) []mix {
	refs := [3]config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment), config.ClusterLayer(c.Name)}
	var options [3][]servedLayer
	for i, ref := range refs {
		switch r, live := inv.LiveRollout(ref); {
		case ref == ch.layer.Ref:
			options[i] = []servedLayer{{ref: ref, version: ch.layer.Version, proposed: true, unnumbered: !ch.known}}
			if ch.staged {
				options[i] = append(options[i], servedLayer{ref: ref, version: ch.stable,
					note: fmt.Sprintf("the new rollout of %s has not reached it (stable %d)", ref, ch.stable)})
			}
		case live && ref.Scope != config.ScopeCluster:
			note := rolloutNote(r)
			options[i] = []servedLayer{{ref: ref, version: r.Stable, note: note}}
			if r.State != rollout.Halted && r.State != rollout.Aborted {
				options[i] = append(options[i], servedLayer{ref: ref, version: r.Target, note: note})
			}
		default:
			options[i] = []servedLayer{{ref: ref, version: inv.Heads[ref].Version}}
		}
	}
	var out []mix
	seen := map[string]bool{}
	for _, g := range options[0] {
		for _, e := range options[1] {
			for _, cl := range options[2] {
				m := mix{layers: [3]servedLayer{g, e, cl}}
				if k := m.key(); !seen[k] {
					seen[k] = true
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// validateServed renders every configVersion the generator may serve each affected cluster
// once ch is made, under the policies stored. It returns the problems found, each naming the
// cluster and the configVersion; an error means a read failed. Layer versions are read once.
func validateServed(ctx context.Context, cache *layerCache, inv *registry.Inventory, ch change, clusters []registry.ClusterInfo, policies policy.Set, progress Progress) ([]ClusterProblem, error) {
	var (
		mu       sync.Mutex
		problems []ClusterProblem
		done     int
	)
	// A read error stops the work (the first one is returned); a cluster's problem does not.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range clusters {
		g.Go(func() error {
			var found []ClusterProblem
			for _, m := range servable(inv, ch, c) {
				layers := make([]config.Layer, 3)
				for i, l := range m.layers {
					if l.proposed {
						layers[i] = ch.layer
						continue
					}
					var err error
					if layers[i], err = cache.get(gctx, l.ref, l.version); err != nil {
						return err
					}
				}
				if perr := CheckLayers(layers, c.Name, policies); perr != nil {
					found = append(found, ClusterProblem{Cluster: c.Name, Served: m.String(), Err: perr})
				}
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			if progress != nil && len(clusters) >= 20 && (done%50 == 0 || done == len(clusters)) {
				progress("validated %d/%d clusters", done, len(clusters))
			}
			problems = append(problems, found...)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Served < b.Served
	})
	return problems, nil
}

// PolicyImpact says what a change of the policies from before to after stops from rendering:
// every registered cluster is rendered, in what the generator serves it and at its layer
// heads, and each configVersion that renders under before but not under after is a problem
// naming the cluster and the configVersion. It returns them and the number of clusters
// checked; an error means a read failed.
func PolicyImpact(ctx context.Context, st Store, before, after policy.Set) ([]ClusterProblem, int, error) {
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		return nil, 0, err
	}
	cache := newLayerCache(st)
	var (
		mu       sync.Mutex
		problems []ClusterProblem
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range inv.Clusters {
		g.Go(func() error {
			versions := []config.ConfigVersion{c.Served}
			if c.Version != c.Served {
				versions = append(versions, c.Version)
			}
		versions:
			for _, v := range versions {
				refs := []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment), config.ClusterLayer(c.Name)}
				layers := make([]config.Layer, len(refs))
				for i, ref := range refs {
					var err error
					layers[i], err = cache.get(gctx, ref, v.Of(ref))
					switch {
					case errors.Is(err, store.ErrInvalidItem), errors.Is(err, store.ErrNotFound):
						continue versions // does not render today either
					case err != nil:
						return err
					}
				}
				if CheckLayers(layers, c.Name, before) != nil {
					continue // broken already: not the policy change's doing
				}
				if perr := CheckLayers(layers, c.Name, after); perr != nil {
					mu.Lock()
					problems = append(problems, ClusterProblem{Cluster: c.Name, Served: v.String(), Err: perr})
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, err
	}
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Served < b.Served
	})
	return problems, len(inv.Clusters), nil
}
