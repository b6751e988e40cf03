package registry

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Reader reads the registry: every layer head and rollout in one query.
type Reader interface {
	RegistryState(ctx context.Context) (store.RegistryState, error)
}

// ClusterInfo is a registered cluster with the versions its layers are at.
type ClusterInfo struct {
	Name   string
	Record config.Cluster
	// Version is the configVersion of the layer heads.
	Version config.ConfigVersion
	// Served is the configVersion the generator gives the cluster: Version, except for a
	// layer whose live rollout has not reached the cluster yet or was halted (then the
	// rollout's stable version of that layer).
	Served config.ConfigVersion
}

// Inventory is every layer head, registered cluster and rollout, read in one registry query.
type Inventory struct {
	Heads    map[config.LayerRef]store.Head
	Clusters []ClusterInfo // sorted by name
	// Rollouts are the layers' latest rollouts (live or over), by layer.
	Rollouts map[config.LayerRef]rollout.Rollout
	// Legacy lists the items read at the key layout of an earlier release, which `dynamo-cmp
	// table upgrade` moves (store.RegistryState.Legacy).
	Legacy []store.ItemKey
	// live indexes the live rollouts, by layer (see Live).
	live map[config.LayerRef]rollout.Index
}

// ReadInventory reads the registry.
func ReadInventory(ctx context.Context, st Reader) (*Inventory, error) {
	reg, err := st.RegistryState(ctx)
	if err != nil {
		return nil, err
	}
	return InventoryOf(reg), nil
}

// NewInventory builds an inventory from registry heads (no rollouts).
func NewInventory(heads []store.Head) *Inventory {
	return InventoryOf(store.RegistryState{Heads: heads})
}

// InventoryOf builds an inventory from a reading of the registry.
func InventoryOf(reg store.RegistryState) *Inventory {
	inv := &Inventory{Heads: make(map[config.LayerRef]store.Head, len(reg.Heads)), Rollouts: make(map[config.LayerRef]rollout.Rollout, len(reg.Rollouts)), Legacy: reg.Legacy}
	for _, h := range reg.Heads {
		inv.Heads[h.Ref] = h
	}
	for _, r := range reg.Rollouts {
		inv.Rollouts[r.Layer] = r
	}
	inv.live = map[config.LayerRef]rollout.Index{}
	for ref, r := range inv.Rollouts {
		if h := inv.Heads[ref]; r.Live(h.Version, h.TraceID) {
			inv.live[ref] = r.Index()
		}
	}
	for _, h := range reg.Heads {
		if h.Ref.Scope != config.ScopeCluster || h.Cluster == nil {
			continue
		}
		rec := *h.Cluster
		env := config.EnvLayer(rec.Environment)
		v := config.ConfigVersion{
			Global:  inv.Heads[config.GlobalLayer].Version,
			Env:     inv.Heads[env].Version,
			Cluster: h.Version,
		}
		served := v
		if x, ok := inv.live[config.GlobalLayer]; ok {
			served.Global = x.Served(h.Ref.Name)
		}
		if x, ok := inv.live[env]; ok {
			served.Env = x.Served(h.Ref.Name)
		}
		inv.Clusters = append(inv.Clusters, ClusterInfo{Name: h.Ref.Name, Record: rec, Version: v, Served: served})
	}
	sort.Slice(inv.Clusters, func(i, j int) bool { return inv.Clusters[i].Name < inv.Clusters[j].Name })
	return inv
}

// LiveRollout returns the rollout that decides what ref's clusters are served, if any: the
// layer's latest rollout while the head still points at its target and it is not over.
func (inv *Inventory) LiveRollout(ref config.LayerRef) (rollout.Rollout, bool) {
	if _, ok := inv.live[ref]; !ok {
		return rollout.Rollout{}, false
	}
	return inv.Rollouts[ref], true
}

// Live returns the index of the rollout that decides what ref's clusters are served (see
// LiveRollout), built once per inventory.
func (inv *Inventory) Live(ref config.LayerRef) (rollout.Index, bool) {
	x, ok := inv.live[ref]
	return x, ok
}

// Members are clusters as a rollout strategy sees them.
func Members(clusters []ClusterInfo) []rollout.Member {
	out := make([]rollout.Member, len(clusters))
	for i, c := range clusters {
		out[i] = rollout.Member{Name: c.Name, Environment: c.Record.Environment, Labels: c.Record.Labels}
	}
	return out
}

// Affected returns the registered clusters a change of layer ref affects. For a cluster
// layer that is not registered yet, the environment comes from the proposed record.
func (inv *Inventory) Affected(ref config.LayerRef, proposed *config.Cluster) []ClusterInfo {
	var out []ClusterInfo
	for _, c := range inv.Clusters {
		switch {
		case ref.Scope == config.ScopeGlobal,
			ref.Scope == config.ScopeEnv && c.Record.Environment == ref.Name,
			ref.Scope == config.ScopeCluster && c.Name == ref.Name:
			out = append(out, c)
		}
	}
	if ref.Scope == config.ScopeCluster && proposed != nil {
		info := ClusterInfo{Name: ref.Name, Record: *proposed}
		info.Record.Name = ref.Name
		if len(out) == 1 {
			out[0].Record = info.Record
		} else {
			out = append(out, info)
		}
	}
	return out
}

// ServedNote says why the generator serves cluster c what it does, when a live rollout of its
// global or environment layer decides it ("global rolling out: stable 1, target 2"); "" when
// it serves the heads.
func (inv *Inventory) ServedNote(c ClusterInfo) string {
	var notes []string
	for _, ref := range []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment)} {
		r, ok := inv.LiveRollout(ref)
		if !ok {
			continue
		}
		switch r.State {
		case rollout.Halted, rollout.Aborted:
			notes = append(notes, fmt.Sprintf("%s rollout %s: stable %d served, head %d", ref, r.State, r.Stable, r.Target))
		case rollout.Paused:
			notes = append(notes, fmt.Sprintf("%s rollout paused: stable %d, target %d", ref, r.Stable, r.Target))
		default:
			notes = append(notes, fmt.Sprintf("%s rolling out: stable %d, target %d", ref, r.Stable, r.Target))
		}
	}
	return strings.Join(notes, "; ")
}
