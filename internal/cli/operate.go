package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DefaultOperatorTimeout bounds the operators' commands (publishing 2,000 entries and
// validating hundreds of clusters fits comfortably).
const DefaultOperatorTimeout = 5 * time.Minute

// operator carries what every operators' command needs: streams, environment, store flags.
type operator struct {
	streams IOStreams
	env     Env
	so      storeOptions
}

func (o *operator) addFlags(cmd *cobra.Command) {
	o.so.addFlags(cmd.Flags(), o.env, DefaultOperatorTimeout)
}

// open connects to the store under the command's deadline.
func (o *operator) open(ctx context.Context) (*store.Store, context.Context, context.CancelFunc, error) {
	cfg, err := o.so.config(o.env)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.so.timeout)
	st, err := store.New(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, withCode(ExitFailed, err)
	}
	return st, ctx, cancel, nil
}

// progress prints progress lines of long work on stderr.
func (o *operator) progress() ops.Progress {
	return func(format string, args ...any) {
		fmt.Fprintf(o.streams.ErrOut, "… "+format+"\n", args...)
	}
}

// actor names who makes a change: --actor, else the AWS caller identity, else the local user
// marked as unverified.
func (o *operator) actor(ctx context.Context, st *store.Store, flag string) string {
	if flag != "" {
		return flag
	}
	if arn, err := st.CallerIdentity(ctx); err == nil && arn != "" {
		return arn
	}
	if u := o.env.Get("USER", "USERNAME"); u != "" {
		return u + " (unverified)"
	}
	return "unknown (use --actor)"
}

// storeError gives a store error its exit code (exitCode); an error that carries its code
// keeps it.
func storeError(err error) error {
	var coded *exitError
	if err == nil || errors.As(err, &coded) {
		return err
	}
	return withCode(exitCode(err), err)
}

// exitCode is the one mapping of a failed operation's error to an exit code, for generate
// and the operator's commands alike: ExitInvalid for what only a change of the input or of
// the table fixes (refused or invalid configuration, a missing layer, version or cluster
// record, a hand-edited or too large item, an item at an old key layout), ExitFailed for
// what a retry can fix (an outage, throttling, credentials, a deadline, a conflict).
func exitCode(err error) int {
	var refused *ops.RefusedError
	var invalid *config.ValidationError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ExitFailed
	case errors.As(err, &refused), errors.As(err, &invalid),
		errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidItem), errors.Is(err, store.ErrTooLarge),
		errors.Is(err, store.ErrWrongEnvironment), errors.Is(err, config.ErrNoClusterRecord), errors.Is(err, store.ErrOldLayout):
		return ExitInvalid
	default:
		return ExitFailed
	}
}

func printChanges(w io.Writer, changes []ops.Change) {
	fmt.Fprint(w, ops.JoinUnified(changes))
}

// withStore runs fn with a store under the command's deadline.
func (o *operator) withStore(ctx context.Context, fn func(context.Context, *store.Store) error) error {
	st, ctx, cancel, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return fn(ctx, st)
}
