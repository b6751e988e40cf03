package rollout

import (
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestAWaveRemembersItsSettledAndFailedClustersUntilTheNext: what a wave learnt of its
// clusters (settled, failure reported) is kept, sorted and once each, across a resume, and
// forgotten when the next wave starts, whether completed or skipped.
func TestAWaveRemembersItsSettledAndFailedClustersUntilTheNext(t *testing.T) {
	s, err := ParseStrategy([]byte("name: s\nwaves:\n- {name: one, namePattern: a-*}\n- {name: two, namePattern: b-*, bake: 1h}\n- {name: three}\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := New(config.EnvLayer("dev"), &s, []Member{{Name: "a-2"}, {Name: "a-1"}, {Name: "c-1"}}, 1, 2, "trace", "alice", at)
	for _, c := range []string{"a-2", "a-1", "a-2"} {
		r.MarkSettled(c)
	}
	if !r.MarkFailureReported("a-1") || r.MarkFailureReported("a-1") {
		t.Error("a failure is recorded once")
	}
	if err := r.Pause(at, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Resume(at.Add(time.Minute), "bob", ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Settled, []string{"a-1", "a-2"}) || !r.HasSettled("a-2") || r.HasSettled("c-1") || !slices.Equal(r.FailuresReported, []string{"a-1"}) {
		t.Fatalf("settled %v failures reported %v, want [a-1 a-2] and [a-1] across a resume", r.Settled, r.FailuresReported)
	}
	c := r.Clone()
	c.MarkSettled("a-0")
	if len(r.Settled) != 2 {
		t.Error("a clone shares the settled clusters")
	}
	r.Advance(at.Add(2*time.Minute), "serve")
	if r.Wave != 1 || r.Settled != nil || r.FailuresReported != nil {
		t.Fatalf("wave %d settled %v failures reported %v, want wave 2 with nothing learnt", r.Wave+1, r.Settled, r.FailuresReported)
	}
	r.MarkSettled("b-1")
	if r.Skip(at.Add(3*time.Minute), "serve") || r.Wave != 2 || r.Settled != nil {
		t.Fatalf("after skipping wave 2: wave %d settled %v", r.Wave+1, r.Settled)
	}
	if last := r.Log[len(r.Log)-2]; last.Event != EventWaveCompleted || last.Wave != 1 || last.Reason != SkippedReason {
		t.Errorf("log %+v, want wave 2 completed with the reason %q", last, SkippedReason)
	}
	if !r.Skip(at.Add(3*time.Minute), "serve") || r.State != Completed {
		t.Errorf("skipping the last wave: %s, want completed", r.State)
	}
}
