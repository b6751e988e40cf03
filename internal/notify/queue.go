package notify

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	pause "github.com/dynamo-cmp/dynamo-cmp/internal/backoff"
)

// queue is the coalescing delay queue of the notifiers: pending work by key, each due at a
// time. Work put for a key already pending is merged into it (due at the earlier of the two),
// so the queue is bounded by the number of keys. take hands out the work due, in key order;
// wait sleeps until work is put or the next item is due.
type queue[K cmp.Ordered, V any] struct {
	// merge combines the pending value with a new one for the same key (nil: the new one
	// replaces it).
	merge func(old, cur V) V

	mu    sync.Mutex
	items map[K]pendingItem[V]
	wake  chan struct{}
}

type pendingItem[V any] struct {
	val V
	due time.Time
}

// item is a key and its work, as take hands them out.
type item[K cmp.Ordered, V any] struct {
	Key K
	Val V
}

func newQueue[K cmp.Ordered, V any](merge func(old, cur V) V) *queue[K, V] {
	return &queue[K, V]{merge: merge, items: map[K]pendingItem[V]{}, wake: make(chan struct{}, 1)}
}

func (q *queue[K, V]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// put adds work for key, due at due, merged with what is pending for it.
func (q *queue[K, V]) put(key K, val V, due time.Time) {
	q.putAll([]item[K, V]{{Key: key, Val: val}}, due)
}

// putAll adds the work of several keys at once (one take sees all of it or none), due at
// due, each merged with what is pending for its key.
func (q *queue[K, V]) putAll(items []item[K, V], due time.Time) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	for _, it := range items {
		val, d := it.Val, due
		if p, ok := q.items[it.Key]; ok {
			if q.merge != nil {
				val = q.merge(p.val, val)
			}
			if p.due.Before(d) {
				d = p.due
			}
		}
		q.items[it.Key] = pendingItem[V]{val: val, due: d}
	}
	q.mu.Unlock()
	q.signal()
}

// putIfAbsent adds work for key unless work is pending for it (a retry yields to newer work);
// it reports whether it was added.
func (q *queue[K, V]) putIfAbsent(key K, val V, due time.Time) bool {
	q.mu.Lock()
	_, ok := q.items[key]
	if !ok {
		q.items[key] = pendingItem[V]{val: val, due: due}
	}
	q.mu.Unlock()
	if !ok {
		q.signal()
	}
	return !ok
}

// take removes and returns the work due at now, in key order, at most limit items (0: all);
// next is when the earliest work left is due (zero: none).
func (q *queue[K, V]) take(now time.Time, limit int) (due []item[K, V], next time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, p := range q.items {
		if !p.due.After(now) {
			due = append(due, item[K, V]{Key: k, Val: p.val})
		}
	}
	slices.SortFunc(due, func(a, b item[K, V]) int { return cmp.Compare(a.Key, b.Key) })
	if limit > 0 && len(due) > limit {
		due = due[:limit]
	}
	for _, it := range due {
		delete(q.items, it.Key)
	}
	for _, p := range q.items {
		if next.IsZero() || p.due.Before(next) {
			next = p.due
		}
	}
	return due, next
}

// removeFirst removes the work of the smallest key.
func (q *queue[K, V]) removeFirst() (item[K, V], bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return item[K, V]{}, false
	}
	first := true
	var key K
	for k := range q.items {
		if first || k < key {
			key, first = k, false
		}
	}
	it := item[K, V]{Key: key, Val: q.items[key].val}
	delete(q.items, key)
	return it, true
}

// len is the number of keys with pending work.
func (q *queue[K, V]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// wait waits for work to be put, for the time next (when not zero), or for ctx to end; it
// returns false when ctx ended.
func (q *queue[K, V]) wait(ctx context.Context, next time.Time, now func() time.Time) bool {
	var tc <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(now()), time.Millisecond))
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-q.wake:
	case <-tc:
	}
	return true
}

// backoff is an exponential pause between failed rounds, from min doubling up to max
// (backoff.Exponential).
type backoff struct {
	min, max time.Duration
	n        int // failed rounds since the last success
}

// next returns the pause before the next attempt.
func (b *backoff) next() time.Duration {
	d := pause.Exponential(b.n, b.min, b.max)
	b.n++
	return d
}

// reset starts again from min after a success.
func (b *backoff) reset() { b.n = 0 }
