package wave

import (
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

// TestAWaveRemembersItsReachedAndFailedClustersUntilTheNext: what a wave learnt of its
// clusters (reached, failure reported) is kept, sorted and once each, across a resume, and
// forgotten when the next wave starts, whether completed or skipped.
func TestAWaveRemembersItsReachedAndFailedClustersUntilTheNext(t *testing.T) {
	s, err := ParseStrategy([]byte("name: s\nwaves:\n- {name: one, namePattern: a-*}\n- {name: two, namePattern: b-*, bake: 1h}\n- {name: three}\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := New(config.EnvLayer("dev"), &s, []Member{{Name: "a-2"}, {Name: "a-1"}, {Name: "c-1"}}, 1, 2, "trace", "alice", at)
	for _, c := range []string{"a-2", "a-1", "a-2"} {
		r.MarkReached(c)
	}
	if !r.MarkFailed("a-1") || r.MarkFailed("a-1") {
		t.Error("a failure is recorded once")
	}
	if err := r.Pause(at, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if err := r.Resume(at.Add(time.Minute), "bob", ""); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Reached, []string{"a-1", "a-2"}) || !r.HasReached("a-2") || r.HasReached("c-1") || !slices.Equal(r.Failed, []string{"a-1"}) {
		t.Fatalf("reached %v failed %v, want [a-1 a-2] and [a-1] across a resume", r.Reached, r.Failed)
	}
	c := r.Clone()
	c.MarkReached("a-0")
	if len(r.Reached) != 2 {
		t.Error("a clone shares the reached clusters")
	}
	r.Advance(at.Add(2*time.Minute), "serve")
	if r.Wave != 1 || r.Reached != nil || r.Failed != nil {
		t.Fatalf("wave %d reached %v failed %v, want wave 2 with nothing learnt", r.Wave+1, r.Reached, r.Failed)
	}
	r.MarkReached("b-1")
	if r.Skip(at.Add(3*time.Minute), "serve") || r.Wave != 2 || r.Reached != nil {
		t.Fatalf("after skipping wave 2: wave %d reached %v", r.Wave+1, r.Reached)
	}
	if last := r.Log[len(r.Log)-2]; last.Event != EventWaveCompleted || last.Wave != 1 || last.Reason != SkippedReason {
		t.Errorf("log %+v, want wave 2 completed with the reason %q", last, SkippedReason)
	}
	if !r.Skip(at.Add(3*time.Minute), "serve") || r.State != Completed {
		t.Errorf("skipping the last wave: %s, want completed", r.State)
	}
}
