package backoff

import (
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	var got []time.Duration
	for n := 0; n < 7; n++ {
		got = append(got, Exponential(n, time.Second, 30*time.Second))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pauses %v, want %v", got, want)
		}
	}
	// A long run of failures doubles ten times at most: no overflow into a negative pause.
	if d := Exponential(1000, time.Second, time.Hour); d != 1024*time.Second {
		t.Errorf("a long run of failures: %v, want 1024s", d)
	}
}
