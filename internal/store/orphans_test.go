package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Issue 10 §7: interrupted versions stayed forever. Orphans lists them, RemoveOrphan removes
// their entries — never a recent one (its publish may be running), never a published one, and
// a publish whose version is removed under it can no longer become visible.
func TestOrphansAreListedAndRemovedSafely(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.ClusterLayer("c")
	publish(t, s, ref, 0, clusterRecord(t, "c", "dev"))
	entries := []config.Entry{clusterRecord(t, "c", "dev"), namespace(t, "a", nil), namespace(t, "b", nil)}
	restore := store.InterruptPublishes(s)
	if _, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 1, Entries: entries}); !errors.Is(err, store.ErrInterrupted) {
		t.Fatalf("interrupted publish: %v", err)
	}
	restore()

	orphans, err := s.Orphans(ctx, []config.LayerRef{ref}, time.Hour)
	if err != nil || len(orphans) != 1 || orphans[0].Version != 2 || orphans[0].Items != 4 || !orphans[0].Recent {
		t.Fatalf("orphans right after the interrupted publish: %+v %v", orphans, err)
	}
	if err := s.RemoveOrphan(ctx, orphans[0]); err == nil {
		t.Fatal("a recent orphan (its publish may still run) was removed")
	}

	later := time.Now().Add(2 * time.Hour)
	store.SetClock(s, func() time.Time { return later })
	orphans, err = s.Orphans(ctx, []config.LayerRef{ref}, time.Hour)
	if err != nil || len(orphans) != 1 || orphans[0].Recent {
		t.Fatalf("orphans two hours later: %+v %v", orphans, err)
	}
	if err := s.RemoveOrphan(ctx, orphans[0]); err != nil {
		t.Fatal(err)
	}
	if orphans, err := s.Orphans(ctx, []config.LayerRef{ref}, time.Hour); err != nil || len(orphans) != 0 {
		t.Fatalf("after the removal: %+v %v", orphans, err)
	}
	// The number stays claimed (a tombstone); the next publish takes 3 and reads back.
	h := publish(t, s, ref, 1, entries...)
	if h.Version != 3 {
		t.Errorf("the next publish got version %d, want 3 (2 stays claimed)", h.Version)
	}
	if _, err := s.ReadVersion(ctx, ref, 3); err != nil {
		t.Fatal(err)
	}

	// A publish still running when its version is removed fails instead of showing a
	// version without its entries.
	store.AfterEntries(s, func(v int) error {
		return s.RemoveOrphan(ctx, store.Orphan{Ref: ref, Version: v, ClaimedAt: time.Now()})
	})
	_, err = s.Publish(ctx, store.PublishInput{Ref: ref, Base: 3, Entries: entries[:2]})
	store.AfterEntries(s, nil)
	if err == nil {
		t.Fatal("a publish whose version was removed under it succeeded")
	}
	heads, err := s.Heads(ctx, ref)
	if err != nil || heads[ref].Version != 3 {
		t.Fatalf("head after the failed publish: %+v %v", heads[ref], err)
	}
	if _, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "c"}); err != nil {
		t.Fatalf("generation read after the failed publish: %v", err)
	}
	// A published version is never an orphan.
	if err := s.RemoveOrphan(ctx, store.Orphan{Ref: ref, Version: 3, ClaimedAt: time.Now().Add(-48 * time.Hour)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("removing a published version: %v, want a refusal", err)
	}
}
