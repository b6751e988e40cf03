package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// A layer far over the 400 KB item limit and over one 1 MB query page publishes and reads
// back exactly.
func TestLargeLayer(t *testing.T) {
	s, calls := newStore(t)
	ctx := testContext(t)
	ref := config.EnvLayer("big")
	filler := strings.Repeat("x", 700)
	entries := make([]config.Entry, 0, 2000)
	for i := range 2000 {
		name := fmt.Sprintf("ns-%04d", i)
		entries = append(entries, namespace(t, name, map[string]any{
			"labels":        map[string]any{"team": name, "index": fmt.Sprint(i)},
			"annotations":   map[string]any{"description": filler},
			"resourceQuota": map[string]any{"cpu": "4", "memory": "8Gi"},
			"limitRange":    map[string]any{"container": map[string]any{"default": map[string]any{"cpu": "500m"}}},
		}))
	}
	start := time.Now()
	h := publish(t, s, ref, 0, entries...)
	publishTime := time.Since(start)
	writes := calls.Calls("BatchWriteItem")
	t.Logf("publish of 2,000 namespaces: %s, %d BatchWriteItem calls, %s", publishTime.Round(time.Millisecond), writes, calls)
	if writes != 80 {
		t.Errorf("BatchWriteItem calls = %d, want 80 (25 items each)", writes)
	}

	calls.Reset()
	start = time.Now()
	got, err := s.ReadVersion(ctx, ref, h.Version)
	readTime := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read of 2,000 namespaces: %s, %s", readTime.Round(time.Millisecond), calls)
	if calls.Calls("Query") < 2 {
		t.Errorf("the read took %d query pages; the layer should span more than one 1 MB page", calls.Calls("Query"))
	}
	if !reflect.DeepEqual(got.Entries, sorted(entries)) {
		t.Errorf("read back %d entries, not exactly the %d published", len(got.Entries), len(entries))
	}
}

// Concurrent publishers of one layer, each adding its own namespace in a read → publish →
// retry-on-conflict loop, lose no update.
func TestConcurrentPublishers(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.ClusterLayer("busy")
	const publishers = 20

	var (
		mu        sync.Mutex
		versions  []int
		conflicts int
		wg        sync.WaitGroup
		errs      = make([]error, publishers)
	)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := namespace(t, fmt.Sprintf("team-%02d", p), nil)
			for attempt := 0; attempt < 500; attempt++ {
				heads, err := s.Heads(ctx, ref)
				if err != nil {
					errs[p] = err
					return
				}
				base := heads[ref].Version
				current, err := s.ReadVersion(ctx, ref, base)
				if err != nil {
					errs[p] = err
					return
				}
				h, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: base, Entries: append(current.Entries, mine), Actor: fmt.Sprint("publisher-", p)})
				var conflict *store.ConflictError
				if errors.As(err, &conflict) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					errs[p] = err
					return
				}
				mu.Lock()
				versions = append(versions, h.Version)
				mu.Unlock()
				return
			}
			errs[p] = fmt.Errorf("publisher %d never got through", p)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	sort.Ints(versions)
	t.Logf("%d publishes succeeded, %d conflicts retried; versions %v", len(versions), conflicts, versions)
	for i := 1; i < len(versions); i++ {
		if versions[i] == versions[i-1] {
			t.Errorf("version %d was published twice", versions[i])
		}
	}
	heads, err := s.Heads(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	final := heads[ref].Version
	if final != versions[len(versions)-1] {
		t.Errorf("final head %d, want the highest published version %d", final, versions[len(versions)-1])
	}
	l, err := s.ReadVersion(ctx, ref, final)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != publishers {
		var names []string
		for _, e := range l.Entries {
			names = append(names, e.Key)
		}
		t.Errorf("final version holds %d namespaces, want all %d: %v", len(l.Entries), publishers, names)
	}
}
