package store_test

import (
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestLastKnownGood(t *testing.T) {
	s, calls := newStore(t)
	ctx := testContext(t)
	publish(t, s, config.ClusterLayer("a"), 0, clusterRecord(t, "a", "dev"))

	got, err := s.LastKnownGood(ctx, "a", "b")
	if err != nil || len(got) != 0 {
		t.Fatalf("before any record: %v, %v; want none", got, err)
	}

	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	v12 := config.ConfigVersion{Global: 7, Env: 3, Cluster: 12}
	v13 := config.ConfigVersion{Global: 7, Env: 3, Cluster: 13}
	put := func(v config.ConfigVersion, at time.Time, trace string) bool {
		t.Helper()
		ok, err := s.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "a", Version: v, At: at, TraceID: trace})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !put(v12, t0, "t12") {
		t.Fatal("first record not written")
	}
	if !put(v13, t0.Add(time.Minute), "t13") {
		t.Fatal("newer record not written")
	}
	// A replica reporting an older observation late must not win.
	if put(v12, t0.Add(30*time.Second), "late") {
		t.Fatal("an older observation overwrote a newer one")
	}

	calls.Reset()
	got, err = s.LastKnownGood(ctx, "a", "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	want := store.LastKnownGood{Cluster: "a", Version: v13, At: t0.Add(time.Minute), TraceID: "t13"}
	if len(got) != 1 || got["a"].Version != want.Version || !got["a"].At.Equal(want.At) || got["a"].TraceID != want.TraceID {
		t.Fatalf("LastKnownGood = %+v, want only %+v", got, want)
	}
	if n := calls.Calls("BatchGetItem"); n != 1 || calls.Total() != 1 {
		t.Errorf("reading two clusters' records took %s, want one BatchGetItem", calls)
	}

	// The record lives in the cluster's partition without disturbing the layer's reads.
	heads, err := s.Heads(ctx, config.ClusterLayer("a"))
	if err != nil || heads[config.ClusterLayer("a")].Version != 1 {
		t.Fatalf("head after recording: %+v, %v", heads, err)
	}
	if _, err := s.ReadVersion(ctx, config.ClusterLayer("a"), 1); err != nil {
		t.Fatalf("reading the layer after recording: %v", err)
	}
	if _, err := s.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "Not_A_Name", Version: v12, At: t0}); err == nil {
		t.Fatal("an invalid cluster name was accepted")
	}
}
