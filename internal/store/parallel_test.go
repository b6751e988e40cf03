package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// inParallel keeps to the limit, and a failure stops the rest and is what the caller sees,
// not the cancellations it caused.
func TestInParallel(t *testing.T) {
	s := &Store{parallel: 2}
	failure := errors.New("boom")
	var running, most, calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.inParallel(ctx, 20, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if i == 3 {
			return failure
		}
		select { // the others wait to be canceled
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
			return nil
		}
	})
	if !errors.Is(err, failure) {
		t.Errorf("inParallel returned %v, want the failure", err)
	}
	if m := most.Load(); m > 2 {
		t.Errorf("%d calls ran at once, want at most 2", m)
	}
	if c := calls.Load(); c == 20 {
		t.Errorf("all 20 calls were made after call 3 failed")
	}

	var sum atomic.Int32
	if err := s.inParallel(ctx, 10, func(_ context.Context, i int) error { sum.Add(int32(i)); return nil }); err != nil || sum.Load() != 45 {
		t.Errorf("inParallel over 0..9: error %v, sum %d, want nil and 45", err, sum.Load())
	}
}
