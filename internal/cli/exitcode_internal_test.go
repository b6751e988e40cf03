package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestExitCodeOfFailures: generate and the operator's commands exit alike for the same
// failure: 1 for what only a change of the input or the table fixes, 3 for what a retry can
// fix (a deadline even when what it interrupted was a missing item).
func TestExitCodeOfFailures(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("read cluster/dev-a: %w", err) }
	for _, tc := range []struct {
		err  error
		want int
	}{
		{wrap(store.ErrNotFound), ExitInvalid},
		{wrap(store.ErrInvalidItem), ExitInvalid},
		{wrap(store.ErrTooLarge), ExitInvalid},
		{wrap(store.ErrWrongEnvironment), ExitInvalid},
		{wrap(store.ErrOldLayout), ExitInvalid},
		{wrap(config.ErrNoClusterRecord), ExitInvalid},
		{wrap(&ops.RefusedError{Ref: config.GlobalLayer}), ExitInvalid},
		{wrap(&config.ValidationError{}), ExitInvalid},
		{wrap(store.ErrThrottled), ExitFailed},
		{wrap(store.ErrUnavailable), ExitFailed},
		{wrap(store.ErrCredentials), ExitFailed},
		{wrap(store.ErrConflict), ExitFailed},
		{wrap(context.DeadlineExceeded), ExitFailed},
		{fmt.Errorf("%w: %w", context.DeadlineExceeded, store.ErrNotFound), ExitFailed},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
		var coded *exitError
		if !errors.As(storeError(tc.err), &coded) || coded.code != tc.want {
			t.Errorf("the operator's commands exit %+v for %v, want %d", coded, tc.err, tc.want)
		}
		if got := storeFailure(tc.err, plugin.Request{Cluster: "dev-a"}, time.Second).code; got != tc.want {
			t.Errorf("generate exits %d for %v, want %d", got, tc.err, tc.want)
		}
	}
}
