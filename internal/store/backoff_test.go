package store

import (
	"testing"
	"time"
)

// The delays before retries: exponential, capped, half of each one random (so processes
// throttled together do not retry in lockstep).
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func() time.Duration
		full time.Duration // the delay before jitter: each one is in [full/2, full)
	}{
		{"SDK retry 1", func() time.Duration { return retryBackoff(1, 20*time.Second) }, 100 * time.Millisecond},
		{"SDK retry 3", func() time.Duration { return retryBackoff(3, 20*time.Second) }, 400 * time.Millisecond},
		{"SDK retry capped by max", func() time.Duration { return retryBackoff(20, 20*time.Second) }, 20 * time.Second},
		{"SDK retry doubles at most ten times", func() time.Duration { return retryBackoff(20, 2*time.Minute) }, 51200 * time.Millisecond},
		{"batch retry 0", func() time.Duration { return defaultBackoff(0) }, 25 * time.Millisecond},
		{"batch retry 2", func() time.Duration { return defaultBackoff(2) }, 100 * time.Millisecond},
		{"batch retry capped at 1s", func() time.Duration { return defaultBackoff(9) }, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 50 {
				d := tc.f()
				if d < tc.full/2 || d >= tc.full {
					t.Fatalf("delay %v, want in [%v, %v)", d, tc.full/2, tc.full)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("50 delays were all %v: no jitter", tc.full)
			}
		})
	}
}
