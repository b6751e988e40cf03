package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// draftsListFlags are config drafts list's flags.
type draftsListFlags struct {
	layer string
}

func newDraftsCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drafts",
		Short: "Publish or list the draft entries operators edited in the DynamoDB console",
		Long: `Draft items (sort key draft#<kind>#<key>) are edits made in the AWS console. A draft
replaces the entry with the same kind and key in the next version; a draft with the attribute
"$draft": "delete" removes it. See docs/dynamodb.md.`,
	}
	o := &operator{streams: streams, env: env}
	var c changeFlags
	var rc rolloutChoice
	publish := &cobra.Command{
		Use:   "publish --layer LAYER [--base-version N] [--strategy NAME | --all-at-once] [-m MESSAGE] [--dry-run]",
		Short: "Publish the layer's drafts as its next version, then delete them",
		Long: `Drafts publish applies the layer's drafts to its head version and publishes the result,
on condition that the head is still at the version the drafts were applied to (a concurrent
publish makes it exit 3 and change nothing). --base-version N also refuses (exit 3) when the
head is not at N, the version you reviewed the drafts against. --strategy and --all-at-once
choose how the new version is rolled out, as for "config publish".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runDraftsPublish(cmd.Context(), c, rc)
		},
	}
	c.add(publish)
	rc.add(publish)
	publish.Flags().BoolVar(&c.allowEmpty, "allow-empty", false, "publish even if the drafts remove every entry of the layer")
	o.addFlags(publish)

	lo := &operator{streams: streams, env: env}
	var lf draftsListFlags
	list := &cobra.Command{
		Use:   "list --layer LAYER",
		Short: "List a layer's drafts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lo.runDraftsList(cmd.Context(), lf)
		},
	}
	list.Flags().StringVar(&lf.layer, "layer", "", "layer (required)")
	lo.addFlags(list)
	cmd.AddCommand(publish, list)
	return cmd
}

// runDraftsPublish publishes a layer's drafts over its head and then deletes them.
func (o *operator) runDraftsPublish(ctx context.Context, c changeFlags, rc rolloutChoice) error {
	ref, err := parseLayerFlag(c.layer)
	if err != nil {
		return err
	}
	if err := rc.check(); err != nil {
		return err
	}
	expected, err := c.base.get()
	if err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		drafts, err := st.Drafts(ctx, ref)
		if err != nil {
			return storeError(err)
		}
		if len(drafts) == 0 {
			fmt.Fprintf(o.streams.Out, "no drafts for %s\n", ref)
			return nil
		}
		heads, err := st.Heads(ctx, ref)
		if err != nil {
			return storeError(err)
		}
		base := heads[ref].Version
		if expected != nil && *expected != base {
			return storeError(unknownBase(ctx, st, &store.ConflictError{Ref: ref, Expected: *expected, Actual: base}, baseFlagSource))
		}
		current, err := st.ReadVersion(ctx, ref, base)
		if err != nil {
			return storeError(err)
		}
		if err := checkDeleteDrafts(current, drafts); err != nil {
			return err
		}
		// The drafts were applied to version base: publish them only over base.
		c.expected = &base
		entries := ops.ApplyDrafts(current.Entries, drafts)
		return o.publish(ctx, st, ref, entries, c, rc, func() error {
			if err := st.DeleteDrafts(ctx, ref, drafts); err != nil {
				return storeError(fmt.Errorf("published, but deleting the %d drafts failed (delete them in the console): %w", len(drafts), err))
			}
			return nil
		})
	})
}

// runDraftsList lists a layer's drafts, one line each.
func (o *operator) runDraftsList(ctx context.Context, f draftsListFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		drafts, err := st.Drafts(ctx, ref)
		if err != nil {
			return storeError(err)
		}
		for _, d := range drafts {
			action := "replace"
			if d.Delete {
				action = "delete"
			}
			fmt.Fprintf(o.streams.Out, "%s\t%s\n", action, cell(d.Entry.ID()))
		}
		return nil
	})
}

// checkDeleteDrafts refuses delete drafts of entries the version they apply to does not hold
// (a misspelt key in the console): applied, they would remove nothing, and publishing would
// delete the draft as if done. Every such draft is named; nothing is written.
func checkDeleteDrafts(current config.Layer, drafts []store.Draft) error {
	held := make(map[string]bool, len(current.Entries))
	for _, e := range current.Entries {
		held[e.ID()] = true
	}
	var problems []string
	for _, d := range drafts {
		if d.Delete && !held[d.Entry.ID()] {
			problems = append(problems, fmt.Sprintf("%s: delete draft of %s: version %d of %s has no such entry (fix the key of the draft item %s in the console, or delete it)",
				current.Ref, config.EntryPath(d.Entry.Kind, d.Entry.Key), current.Version, current.Ref, cell(store.DraftSK(d.Entry.Kind, d.Entry.Key))))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return withCode(ExitInvalid, fmt.Errorf("refused: %s; nothing was changed", strings.Join(problems, "; ")))
}
