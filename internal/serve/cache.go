package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
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

// snapshot is one reading of the registry, ready to serve.
type snapshot struct {
	// seq is the change counter read before the registry.
	seq int64
	inv *ops.Inventory
	// params holds the encoded parameter set of each cluster, in inv.Clusters order (by name).
	params [][]byte
	// all is the whole answer without filter.
	all    *answerBody
	readAt time.Time

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
func (s *snapshot) filteredAnswer(key string, f Filter) *answerBody {
	s.mu.Lock()
	a, ok := s.filtered[key]
	s.mu.Unlock()
	if ok {
		return a
	}
	a = &answerBody{raw: s.answer(func(i int) bool {
		c := s.inv.Clusters[i]
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

func newSnapshot(seq int64, heads []store.Head, at time.Time) *snapshot {
	inv := ops.NewInventory(heads)
	s := &snapshot{seq: seq, inv: inv, params: make([][]byte, len(inv.Clusters)), readAt: at}
	for i, c := range inv.Clusters {
		p := ParamSet{
			Cluster: c.Name, Environment: c.Record.Environment, Region: c.Record.Region,
			ConfigVersion: c.Version.String(), Labels: c.Record.Labels, Vars: c.Record.Vars,
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
func (s *snapshot) answer(keep func(i int) bool) []byte {
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
	cacheHit       = "hit"
	cacheValidated = "validated"
	cacheReloaded  = "reloaded"
	cacheStale     = "stale"
)

// registryCache holds the registry snapshot the generator serves. A snapshot validated less
// than ttl ago is served with no DynamoDB call; an older one costs one consistent GetItem of
// the change counter, and one registry query when the counter moved. Concurrent checks are
// merged into one.
type registryCache struct {
	st      Store
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	// onChange is called with the previous and the new snapshot each time a new one is
	// installed, in order (old is nil the first time). It must not block.
	onChange func(old, cur *snapshot)

	cur     atomic.Pointer[snapshot]
	checked atomic.Int64 // Unix nanoseconds of the start of the last successful check

	mu       sync.Mutex
	inflight *flight
}

type flight struct {
	done   chan struct{}
	snap   *snapshot
	result string
	err    error
}

// get returns a snapshot checked at most ttl ago. When DynamoDB fails and an older snapshot
// exists, that one is returned with result cacheStale and the error.
func (r *registryCache) get(ctx context.Context) (*snapshot, string, error) {
	if cur := r.cur.Load(); cur != nil && r.ttl > 0 && r.now().Sub(time.Unix(0, r.checked.Load())) < r.ttl {
		return cur, cacheHit, nil
	}
	snap, result, err := r.check(ctx)
	if err != nil {
		if cur := r.cur.Load(); cur != nil {
			return cur, cacheStale, err
		}
		return nil, "", err
	}
	return snap, result, nil
}

// check reads the change counter now, and the registry when it moved.
func (r *registryCache) check(ctx context.Context) (*snapshot, string, error) {
	r.mu.Lock()
	if f := r.inflight; f != nil {
		r.mu.Unlock()
		select {
		case <-f.done:
			return f.snap, f.result, f.err
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	r.inflight = f
	r.mu.Unlock()

	// The check runs to its end even if the caller that started it goes away: others wait on it.
	f.snap, f.result, f.err = r.load(context.WithoutCancel(ctx))
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(f.done)
	return f.snap, f.result, f.err
}

func (r *registryCache) load(ctx context.Context) (*snapshot, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := r.now()
	seq, err := r.st.ChangeSeq(ctx)
	if err != nil {
		return nil, "", err
	}
	if cur := r.cur.Load(); cur != nil && cur.seq == seq {
		r.checked.Store(start.UnixNano())
		return cur, cacheValidated, nil
	}
	heads, err := r.st.Registry(ctx)
	if err != nil {
		return nil, "", err
	}
	snap := newSnapshot(seq, heads, start)
	old := r.cur.Swap(snap)
	r.checked.Store(start.UnixNano())
	if r.onChange != nil {
		r.onChange(old, snap)
	}
	return snap, cacheReloaded, nil
}

// current is the snapshot being served (nil before the first read).
func (r *registryCache) current() *snapshot { return r.cur.Load() }
