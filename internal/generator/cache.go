package generator

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// ParamSet is the parameter set the generator answers for one cluster.
type ParamSet struct {
	Cluster     string `json:"cluster"`
	Environment string `json:"environment"`
	Region      string `json:"region"`
	// ConfigVersion pins the cluster's three layers, e.g. "g7.e3.c12".
	ConfigVersion string `json:"configVersion"`
	// Labels and Vars are the cluster record's (empty objects when it has none).
	Labels map[string]string `json:"labels"`
	Vars   map[string]string `json:"vars"`
}

// Snapshot is one reading of the registry, ready to serve.
type Snapshot struct {
	// Seq is the change counter read before the registry.
	Seq       int64
	Inventory *registry.Inventory
	// ReadAt is when the reading started.
	ReadAt time.Time

	// params holds the encoded parameter set of each cluster, in Inventory.Clusters order (by name).
	params [][]byte
	// all is the whole answer without filter.
	all *answerBody

	// filtered caches the answers to the filters asked for (ApplicationSets repeat theirs),
	// by canonical input parameters; at most maxFiltered entries.
	mu       sync.Mutex
	filtered map[string]*answerBody
}

// answerBody is an encoded answer, and its gzip encoding made on first use.
type answerBody struct {
	raw  []byte
	once sync.Once
	gz   []byte
}

// minGzip is the smallest answer sent compressed (to clients accepting gzip).
const minGzip = 1024

func (a *answerBody) gzipped() []byte {
	a.once.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		_, _ = w.Write(a.raw)
		_ = w.Close()
		a.gz = b.Bytes()
	})
	return a.gz
}

// maxFiltered bounds the filtered answers cached per snapshot.
const maxFiltered = 256

// filteredAnswer returns the answer for filter f, whose canonical parameters are key.
func (s *Snapshot) filteredAnswer(key string, f Filter) *answerBody {
	s.mu.Lock()
	a, ok := s.filtered[key]
	s.mu.Unlock()
	if ok {
		return a
	}
	a = &answerBody{raw: s.answer(func(i int) bool {
		c := s.Inventory.Clusters[i]
		return f.Match(c.Name, c.Record)
	})}
	s.mu.Lock()
	if s.filtered == nil || len(s.filtered) >= maxFiltered {
		s.filtered = map[string]*answerBody{}
	}
	s.filtered[key] = a
	s.mu.Unlock()
	return a
}

const (
	answerHead = `{"output":{"parameters":[`
	answerTail = "]}}\n"
)

// NewSnapshot makes the snapshot of the registry read after change counter seq.
func NewSnapshot(seq int64, reg store.RegistryState, at time.Time) *Snapshot {
	inv := registry.InventoryOf(reg)
	s := &Snapshot{Seq: seq, Inventory: inv, params: make([][]byte, len(inv.Clusters)), ReadAt: at}
	for i, c := range inv.Clusters {
		p := ParamSet{
			Cluster: c.Name, Environment: c.Record.Environment, Region: c.Record.Region,
			ConfigVersion: c.Served.String(), Labels: c.Record.Labels, Vars: c.Record.Vars,
		}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Vars == nil {
			p.Vars = map[string]string{}
		}
		s.params[i], _ = json.Marshal(p) // strings and string maps: cannot fail
	}
	s.all = &answerBody{raw: s.answer(func(int) bool { return true })}
	return s
}

// answer encodes the parameter sets of the clusters keep selects, in name order.
func (s *Snapshot) answer(keep func(i int) bool) []byte {
	var b bytes.Buffer
	b.Grow(len(answerHead) + len(answerTail) + len(s.params)*200)
	b.WriteString(answerHead)
	first := true
	for i, p := range s.params {
		if !keep(i) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(p)
	}
	b.WriteString(answerTail)
	return b.Bytes()
}

// How a request obtained its snapshot (the generator_cache_total metric).
const (
	CacheHit       = "hit"
	CacheValidated = "validated"
	CacheReloaded  = "reloaded"
	CacheStale     = "stale"
)

// Store is what the generator needs of the store.
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
