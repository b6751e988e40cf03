package registry

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// hangingStore answers the change counter at once, or hangs until its context ends.
type hangingStore struct {
	hang  atomic.Bool
	calls atomic.Int32
}

func (h *hangingStore) ChangeSeq(ctx context.Context) (int64, error) {
	h.calls.Add(1)
	if h.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 1, nil
}

func (h *hangingStore) RegistryState(context.Context) (store.RegistryState, error) {
	return store.RegistryState{Heads: []store.Head{{Ref: config.GlobalLayer, Version: 1}}}, nil
}

func TestCacheServesTheSnapshotStaleAfterTheFreshnessBudget(t *testing.T) {
	st := &hangingStore{}
	c := NewCache(CacheOptions{Store: st, Timeout: time.Minute, FreshnessBudget: 50 * time.Millisecond})
	ctx := context.Background()
	first, result, err := c.Get(ctx)
	if err != nil || result != CacheReloaded {
		t.Fatalf("first read: %v %v", result, err)
	}
	st.hang.Store(true)
	for i := range 3 { // the later requests join the check still hanging
		snap, result, err := c.Get(ctx)
		if snap != first || result != CacheStale || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request %d on a hung store: %p %q %v, want the snapshot, stale, a deadline error", i+1, snap, result, err)
		}
	}
	if n := st.calls.Load(); n != 2 {
		t.Errorf("%d change counter reads, want 2 (the hung check is shared)", n)
	}
}

func TestCacheWithoutSnapshotWaitsForTheCheck(t *testing.T) {
	st := &hangingStore{}
	st.hang.Store(true)
	c := NewCache(CacheOptions{Store: st, Timeout: 200 * time.Millisecond, FreshnessBudget: 10 * time.Millisecond})
	snap, _, err := c.Get(context.Background())
	if snap != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no snapshot, hung store: %v %v, want the store timeout", snap, err)
	}
	if strings.Contains(err.Error(), "freshness budget") {
		t.Errorf("without a snapshot the freshness budget cut the check: %v", err)
	}
}
