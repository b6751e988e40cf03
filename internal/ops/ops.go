package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/render"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Store is what the workflows need of the store.
type Store interface {
	Heads(ctx context.Context, refs ...config.LayerRef) (map[config.LayerRef]store.Head, error)
	RegistryState(ctx context.Context) (store.RegistryState, error)
	ReadVersion(ctx context.Context, ref config.LayerRef, version int) (config.Layer, error)
	Publish(ctx context.Context, in store.PublishInput) (store.Head, error)
	Rollback(ctx context.Context, in store.RollbackInput) (store.Head, error)
	Strategies(ctx context.Context) ([]store.StoredStrategy, error)
	Policies(ctx context.Context) ([]store.StoredPolicy, error)
}

var _ Store = (*store.Store)(nil)

// Progress receives progress lines of long work (validating hundreds of clusters).
type Progress func(format string, args ...any)

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
func ReadInventory(ctx context.Context, st Store) (*Inventory, error) {
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

// ClusterProblem is why a change would break one cluster.
type ClusterProblem struct {
	Cluster string
	// Served is the configVersion that breaks, as the generator would serve it after the
	// change, and why when a rollout decides it ("g1.e(new).c1 while the rollout of global is
	// in wave 1/2 (stable 1, target 2)"); "(new)" stands for the number a publish claims.
	Served string
	Err    error
}

// RefusedError lists the clusters a change would break.
type RefusedError struct {
	Ref      config.LayerRef
	Problems []ClusterProblem
	Checked  int
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	broken := map[string]bool{}
	for _, p := range e.Problems {
		broken[p.Cluster] = true
	}
	fmt.Fprintf(&b, "refused: %s would break %d of the %d clusters it affects; nothing was changed", e.Ref, len(broken), e.Checked)
	for _, p := range e.Problems {
		if p.Served != "" {
			fmt.Fprintf(&b, "\ncluster %s, served %s:", p.Cluster, p.Served)
		} else {
			fmt.Fprintf(&b, "\ncluster %s:", p.Cluster)
		}
		for _, line := range strings.Split(p.Err.Error(), "\n") {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

// layerCache reads layer versions once per workflow.
type layerCache struct {
	st Store
	mu sync.Mutex
	m  map[store.Pin]*cacheEntry
}

type cacheEntry struct {
	once  sync.Once
	layer config.Layer
	err   error
}

func newLayerCache(st Store) *layerCache { return &layerCache{st: st, m: map[store.Pin]*cacheEntry{}} }

func (c *layerCache) get(ctx context.Context, ref config.LayerRef, version int) (config.Layer, error) {
	if version == 0 {
		return config.Layer{Ref: ref}, nil
	}
	pin := store.Pin{Ref: ref, Version: version}
	c.mu.Lock()
	e := c.m[pin]
	if e == nil {
		e = &cacheEntry{}
		c.m[pin] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.layer, e.err = c.st.ReadVersion(ctx, ref, version) })
	return e.layer, e.err
}

// CheckLayers resolves and renders a cluster's layers under the policies and returns what is
// wrong, or nil.
func CheckLayers(layers []config.Layer, cluster string, policies policy.Set) error {
	_, err := Render(layers, cluster, policies, render.Options{}, nil)
	if errors.Is(err, render.ErrNoObjects) {
		return nil // an empty cluster is not broken; generate refuses to serve it on its own
	}
	return err
}
