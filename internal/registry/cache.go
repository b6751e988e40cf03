package registry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Snapshot is one reading of the registry, ready to serve.
type Snapshot struct {
	// Seq is the change counter read before the registry.
	Seq       int64
	Inventory *Inventory
	// ReadAt is when the reading started.
	ReadAt time.Time
}

// NewSnapshot makes the snapshot of the registry read after change counter seq.
func NewSnapshot(seq int64, reg store.RegistryState, at time.Time) *Snapshot {
	return &Snapshot{Seq: seq, Inventory: InventoryOf(reg), ReadAt: at}
}

// How a request obtained its snapshot (the generator_cache_total metric).
const (
	CacheHit       = "hit"
	CacheValidated = "validated"
	CacheReloaded  = "reloaded"
	CacheStale     = "stale"
)

// Store is what a Cache needs of the store.
type Store interface {
	// ChangeSeq reads the registry's change counter (consistently).
	ChangeSeq(ctx context.Context) (int64, error)
	// RegistryState reads every layer head and rollout.
	RegistryState(ctx context.Context) (store.RegistryState, error)
}

// CacheOptions configure a Cache.
type CacheOptions struct {
	Store Store
	// TTL is how long a snapshot is served without asking DynamoDB whether it changed.
	TTL time.Duration
	// Timeout bounds each check (the change counter, and the registry when it moved).
	Timeout time.Duration
	// FreshnessBudget bounds how long a request that holds a snapshot waits for the check;
	// past it the snapshot is served stale while the check goes on (0: wait for the check,
	// up to Timeout). Argo CD's ApplicationSet controller gives up on a generator after its
	// requestTimeout (10 s), so the budget must stay well inside that.
	FreshnessBudget time.Duration
	// Now is the clock.
	Now func() time.Time
	// OnChange is called with the previous and the new snapshot each time a new one is
	// installed, in order (old is nil the first time). It must not block.
	OnChange func(old, cur *Snapshot)
}

// Cache holds the registry snapshot the generator serves. A snapshot validated less than TTL
// ago is served with no DynamoDB call; an older one costs one consistent GetItem of the
// change counter, and one registry query when the counter moved. Concurrent checks are
// merged into one.
type Cache struct {
	o CacheOptions

	cur     atomic.Pointer[Snapshot]
	checked atomic.Int64 // Unix nanoseconds of the start of the last successful check

	flight singleflight.Group
}

// NewCache returns an empty cache (the first Get or Check reads the registry).
func NewCache(o CacheOptions) *Cache {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{o: o}
}

// Get returns a snapshot checked at most TTL ago. When DynamoDB fails and an older snapshot
// exists, that one is returned with result CacheStale and the error.
func (r *Cache) Get(ctx context.Context) (*Snapshot, string, error) {
	if cur := r.cur.Load(); cur != nil && r.o.TTL > 0 && r.o.Now().Sub(time.Unix(0, r.checked.Load())) < r.o.TTL {
		return cur, CacheHit, nil
	}
	checkCtx := ctx
	if cur := r.cur.Load(); cur != nil && r.o.FreshnessBudget > 0 {
		var cancel context.CancelFunc
		checkCtx, cancel = context.WithTimeout(ctx, r.o.FreshnessBudget)
		defer cancel()
	}
	snap, result, err := r.Check(checkCtx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && checkCtx != ctx {
			err = fmt.Errorf("the registry's change counter did not answer within the freshness budget (%s): %w", r.o.FreshnessBudget, err)
		}
		if cur := r.cur.Load(); cur != nil {
			return cur, CacheStale, err
		}
		return nil, "", err
	}
	return snap, result, nil
}

type checked struct {
	snap   *Snapshot
	result string
}

// Check reads the change counter now, and the registry when it moved. Concurrent checks
// share one reading; it runs to its end even if the caller that started it goes away.
func (r *Cache) Check(ctx context.Context) (*Snapshot, string, error) {
	ch := r.flight.DoChan("check", func() (any, error) {
		snap, result, err := r.load(context.WithoutCancel(ctx))
		return checked{snap, result}, err
	})
	select {
	case res := <-ch:
		c, _ := res.Val.(checked)
		return c.snap, c.result, res.Err
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

func (r *Cache) load(ctx context.Context) (*Snapshot, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	start := r.o.Now()
	seq, err := r.o.Store.ChangeSeq(ctx)
	if err != nil {
		return nil, "", err
	}
	if cur := r.cur.Load(); cur != nil && cur.Seq == seq {
		r.checked.Store(start.UnixNano())
		return cur, CacheValidated, nil
	}
	reg, err := r.o.Store.RegistryState(ctx)
	if err != nil {
		return nil, "", err
	}
	snap := NewSnapshot(seq, reg, start)
	old := r.cur.Swap(snap)
	r.checked.Store(start.UnixNano())
	if r.o.OnChange != nil {
		r.o.OnChange(old, snap)
	}
	return snap, CacheReloaded, nil
}

// Current is the snapshot being served (nil before the first read).
func (r *Cache) Current() *Snapshot { return r.cur.Load() }
