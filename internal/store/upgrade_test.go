package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// servedState is what serve and the rollout commands read, to compare before and after the
// items move between key layouts.
type servedState struct {
	Seq          int64
	Rollouts     []rollout.Rollout
	RegistryRoll []rollout.Rollout
	LKG          map[string]store.LastKnownGood
	Observed     map[string]store.Observation
}

func readServed(t *testing.T, s *store.Store) (servedState, []store.ItemKey) {
	t.Helper()
	ctx := testContext(t)
	var st servedState
	var err error
	if st.Seq, err = s.ChangeSeq(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Rollouts, err = s.Rollouts(ctx); err != nil {
		t.Fatal(err)
	}
	reg, err := s.RegistryState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.RegistryRoll = reg.Rollouts
	if st.LKG, err = s.LastKnownGood(ctx, "qa-a"); err != nil {
		t.Fatal(err)
	}
	if st.Observed, err = s.Observations(ctx, "qa-a"); err != nil {
		t.Fatal(err)
	}
	return st, reg.Legacy
}

// A table written by a release before serve's items had partitions of their own: the live
// rollout, the change counter, a cluster's last-known-good and observation items at the old
// keys. This release reads them where they are (nothing served changes, the live rollout
// still decides what is served), refuses to write a step of the old rollout with a message
// naming `table upgrade` instead of losing it, and UpgradeLayout moves them — atomically,
// idempotently — after which the rollout goes on.
func TestUpgradeLayoutKeepsALiveRollout(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	publish(t, s, config.ClusterLayer("qa-a"), 0, clusterRecord(t, "qa-a", "qa"))
	publish(t, s, config.ClusterLayer("qa-b"), 0, clusterRecord(t, "qa-b", "qa"))
	firstVersionRollout(t, s, 0)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	if _, err := s.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "qa-a", Version: config.ConfigVersion{Global: 0, Env: 0, Cluster: 1}, At: at, TraceID: "t1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObservations(ctx, []store.Observation{{Cluster: "qa-a", Applications: 1, Sync: "Synced", Health: "Healthy", SyncedVersion: "g0.e0.c1", At: at, Replica: "r0"}}); err != nil {
		t.Fatal(err)
	}
	want, legacy := readServed(t, s)
	if len(legacy) != 0 || len(want.Rollouts) != 1 || len(want.LKG) != 1 || len(want.Observed) != 1 || want.Seq == 0 {
		t.Fatalf("before: %+v, legacy %v", want, legacy)
	}

	// The earlier release's layout.
	for _, mv := range [][4]string{
		{"rollout", "env#qa", "registry", "rollout#env#qa"},
		{"changes", "seq", "registry", "seq"},
		{"lkg#qa-a", "lkg", "cluster#qa-a", "lkg"},
		{"observed#qa-a", "observed", "cluster#qa-a", "observed"},
	} {
		if err := store.MoveRawItem(ctx, s, mv[0], mv[1], mv[2], mv[3]); err != nil {
			t.Fatal(err)
		}
	}
	got, legacy := readServed(t, s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read at the old layout:\n got %+v\nwant %+v", got, want)
	}
	if strings.Join(keysOf(legacy), " ") != "registry/rollout#env#qa registry/seq" {
		t.Errorf("RegistryState.Legacy = %v, want the rollout and the change counter", legacy)
	}

	// A publish by this release moves the new counter: the sum the watchers read moves too.
	publish(t, s, config.ClusterLayer("qa-b"), 1, clusterRecord(t, "qa-b", "qa"), namespace(t, "b", nil))
	if seq, err := s.ChangeSeq(ctx); err != nil || seq != want.Seq+1 {
		t.Fatalf("ChangeSeq after a publish = %d, %v; want %d", seq, err, want.Seq+1)
	}
	want.Seq++

	// A step of the old rollout is refused, naming the upgrade; nothing is written.
	step := want.Rollouts[0]
	step.Record(time.Now(), "a step", "tester", "")
	if _, err := s.UpdateRollout(ctx, step, store.RolloutUpdate{Served: true}); !errors.Is(err, store.ErrOldLayout) || !strings.Contains(err.Error(), "dynamo-cmp table upgrade") {
		t.Fatalf("a step of a rollout at the old key: %v, want ErrOldLayout naming `table upgrade`", err)
	}
	if got, _ := readServed(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the refused step:\n got %+v\nwant %+v", got, want)
	}

	dry, err := s.UpgradeLayout(ctx, true)
	if err != nil || len(dry) != 4 {
		t.Fatalf("dry run: %v, %v; want 4 moves", dry, err)
	}
	if _, legacy := readServed(t, s); len(legacy) != 2 {
		t.Fatalf("a dry run moved items: legacy now %v", legacy)
	}
	moves, err := s.UpgradeLayout(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range moves {
		lines = append(lines, m.From.String()+" -> "+m.To.String())
	}
	wantMoves := []string{"registry/rollout#env#qa -> rollout/env#qa", "registry/seq -> changes/seq", "cluster#qa-a/lkg -> lkg#qa-a/lkg", "cluster#qa-a/observed -> observed#qa-a/observed"}
	if !reflect.DeepEqual(lines, wantMoves) {
		t.Errorf("moves %v, want %v", lines, wantMoves)
	}
	got, legacy = readServed(t, s)
	if !reflect.DeepEqual(got, want) || len(legacy) != 0 {
		t.Fatalf("after the upgrade (legacy %v):\n got %+v\nwant %+v", legacy, got, want)
	}
	again, err := s.UpgradeLayout(ctx, false)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second upgrade: %v, %v; want nothing to move", again, err)
	}
	// The rollout goes on from where it was.
	written, err := s.UpdateRollout(ctx, step, store.RolloutUpdate{Served: true})
	if err != nil || written.Rev != want.Rollouts[0].Rev+1 {
		t.Fatalf("a step after the upgrade: %+v, %v", written, err)
	}
}

// An item at the old key that the current key already supersedes (serve of this release
// recorded a newer last known good) is removed, not copied over the newer one.
func TestUpgradeLayoutKeepsTheNewerItem(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	publish(t, s, config.ClusterLayer("a"), 0, clusterRecord(t, "a", "dev"))
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	put := func(v int, at time.Time) {
		t.Helper()
		if _, err := s.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "a", Version: config.ConfigVersion{Cluster: v}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	put(1, t0)
	if err := store.MoveRawItem(ctx, s, "lkg#a", "lkg", "cluster#a", "lkg"); err != nil {
		t.Fatal(err)
	}
	put(2, t0.Add(time.Minute))
	if got, err := s.LastKnownGood(ctx, "a"); err != nil || got["a"].Version.Cluster != 2 {
		t.Fatalf("the newer of both records must win: %+v, %v", got, err)
	}
	moves, err := s.UpgradeLayout(ctx, false)
	if err != nil || len(moves) != 1 || !moves[0].Superseded() {
		t.Fatalf("moves %+v, %v", moves, err)
	}
	if got, err := s.LastKnownGood(ctx, "a"); err != nil || got["a"].Version.Cluster != 2 {
		t.Fatalf("after the upgrade: %+v, %v", got, err)
	}
}

func keysOf(ks []store.ItemKey) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}
