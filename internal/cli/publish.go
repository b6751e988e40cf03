package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
)

// publishFlags are config publish's flags.
type publishFlags struct {
	changeFlags
	files []string
}

func newPublishCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish -f PATH --layer LAYER [--base-version N] [--allow-empty] [-m MESSAGE] [--dry-run]",
		Short: "Publish layer files as the next version of a layer",
		Long: `Publish reads the layer's files (documents without a "layer" field belong to --layer), shows
the diff against the current version entry by entry, validates every cluster the layer affects
with the change in place, and then moves the layer's head to the new version. A change that
would break any cluster is refused (exit 1) and nothing is written.

A file printed by "config get" or "config export" starts with a version header
("# dynamo-cmp: layer=env/dev version=7"): publishing it changes the layer only if its head is
still at that version, so an edit of a stale copy cannot overwrite someone else's publish.
--base-version N says the same explicitly and overrides the header. If the head has moved,
the publish is refused with a conflict (exit 3) and nothing is written: re-read the layer,
redo the change and publish again. Without a header or --base-version (files kept in Git,
CI), the publish goes over whatever version is the head when it runs.

Files that hold no entries for the layer (an empty file, a bare "---") would remove every
entry: that is refused (exit 1) unless --allow-empty is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runPublish(cmd.Context(), f)
		},
	}
	cmd.Flags().StringArrayVarP(&f.files, "file", "f", nil, "layer file or directory (repeatable)")
	cmd.Flags().BoolVar(&f.allowEmpty, "allow-empty", false, "publish even if the files hold no entries (removes every entry of the layer)")
	f.add(cmd)
	o.addFlags(cmd)
	return cmd
}

// runPublish publishes layer files as the layer's next version.
func (o *operator) runPublish(ctx context.Context, f publishFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	if len(f.files) == 0 {
		return withCode(ExitUsage, fmt.Errorf("-f is required: the layer's file or directory"))
	}
	layer, err := config.ReadLayerFilesFor(f.files, ref)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	c := f.changeFlags
	if c.expected, err = c.base.get(); err != nil {
		return err
	}
	if c.expected == nil {
		if c.expected, err = baseFromFiles(f.files, ref); err != nil {
			return err
		}
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		return o.publish(ctx, st, ref, layer.Entries, c, nil)
	})
}

// publish runs the publish workflow; after a successful publish, done (if set) runs.
func (o *operator) publish(ctx context.Context, st *store.Store, ref config.LayerRef, entries []config.Entry, c changeFlags, done func() error) error {
	trace := traceid.New()
	res, err := ops.Publish(ctx, st, ops.PublishRequest{
		Ref: ref, Entries: entries, Message: c.message, Actor: o.actor(ctx, st, c.actor),
		TraceID: trace, Base: c.expected, AllowEmpty: c.allowEmpty, DryRun: c.dryRun, Progress: o.progress(),
	})
	if res != nil && err == nil {
		reportChange(o.streams, "publish", res, c.dryRun, trace)
	}
	var empty *ops.EmptyLayerError
	if errors.As(err, &empty) {
		return withCode(ExitInvalid, err)
	}
	if f := deadlineFailure("publish", ref, o.so.timeout, trace, err); f != nil {
		return f
	}
	if err != nil {
		return storeError(err)
	}
	if done != nil && !c.dryRun {
		return done()
	}
	return nil
}
