package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
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
