package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
)

// rollbackFlags are config rollback's flags.
type rollbackFlags struct {
	changeFlags
	to int
	// toSet says whether --to was given at all.
	toSet bool
}

func newRollbackCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f rollbackFlags
	cmd := &cobra.Command{
		Use:   "rollback --layer LAYER --to N [--base-version N] [-m MESSAGE] [--dry-run]",
		Short: "Move a layer's head back to an earlier published version",
		Long: `Rollback validates every cluster the layer affects at version N, shows the diff, and moves
the layer's head to N (no new version is written; the move is audited). Applications pinned
by the dynamo-cmp ApplicationSet generator pick up the new configVersion at its next poll.
--base-version M refuses (exit 3, nothing changed) unless the head is at M when the head moves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.toSet = cmd.Flags().Changed("to")
			return o.runRollback(cmd.Context(), f)
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&f.to, "to", 0, "version to roll back to (required)")
	o.addFlags(cmd)
	return cmd
}

// runRollback moves a layer's head back to an earlier version.
func (o *operator) runRollback(ctx context.Context, f rollbackFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	switch {
	case !f.toSet:
		return withCode(ExitUsage, fmt.Errorf("--to is required: the version to roll back to (see config history)"))
	case f.to <= 0:
		return withCode(ExitUsage, fmt.Errorf("--to %d: versions are numbered from 1 (see config history)", f.to))
	}
	expected, err := f.base.get()
	if err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		trace := traceid.New()
		res, err := ops.Rollback(ctx, st, ops.RollbackRequest{Ref: ref, To: f.to, Message: f.message, Actor: o.actor(ctx, st, f.actor), TraceID: trace, Base: expected, DryRun: f.dryRun, Progress: o.progress()})
		if fail := deadlineFailure("roll back", ref, o.so.timeout, trace, err); fail != nil {
			return fail
		}
		if err != nil {
			return storeError(unknownBase(ctx, st, err, baseFlagSource))
		}
		reportChange(o.streams, "rollback", res, f.dryRun, trace, nil)
		return nil
	})
}
