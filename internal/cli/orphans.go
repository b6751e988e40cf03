package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// minOrphanGrace is the shortest grace period config orphans accepts: longer than the
// operators' default deadline, so a publish running with it is never touched.
const minOrphanGrace = DefaultOperatorTimeout

type orphansFlags struct {
	layers    []string
	olderThan time.Duration
	delete    bool
}

func newOrphansCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f orphansFlags
	cmd := &cobra.Command{
		Use:   "orphans [--layer LAYER ...] [--older-than 1h] [--delete]",
		Short: "List (or --delete) interrupted versions: versions whose publish never moved the head",
		Long: `A publish that was killed or timed out between claiming its version and moving the head
leaves an unpublished version behind: its metadata item and the entries written so far. No
head, rollback or configVersion can reach it (readers refuse unpublished versions), but its
items stay in the table and are read by nothing. Orphans lists them for every published layer
(or the given ones; a layer that was never published must be named with --layer).

--delete removes their entries. A version claimed less than --older-than ago (default 1h,
at least 5m) is listed as "recent" and kept: its publish may still be running. The version's
metadata item stays as a small tombstone so its number is never claimed again, and a publish
of that version that is somehow still running can no longer become visible.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.olderThan < minOrphanGrace {
				return withCode(ExitUsage, fmt.Errorf("--older-than %s: at least %s, longer than any publish may still be running", f.olderThan, minOrphanGrace))
			}
			var refs []config.LayerRef
			for _, l := range f.layers {
				ref, err := parseLayerFlag(l)
				if err != nil {
					return err
				}
				refs = append(refs, ref)
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				return runOrphans(ctx, streams, st, refs, f)
			})
		},
	}
	cmd.Flags().StringArrayVar(&f.layers, "layer", nil, "layer to look at (repeatable; default: every published layer)")
	cmd.Flags().DurationVar(&f.olderThan, "older-than", time.Hour, "grace period: keep versions claimed more recently than this")
	cmd.Flags().BoolVar(&f.delete, "delete", false, "remove the entries of the listed versions older than the grace period")
	o.addFlags(cmd)
	return cmd
}

func runOrphans(ctx context.Context, streams IOStreams, st *store.Store, refs []config.LayerRef, f orphansFlags) error {
	if len(refs) == 0 {
		inv, err := registry.ReadInventory(ctx, st)
		if err != nil {
			return storeError(err)
		}
		for _, h := range sortedHeads(inv) {
			refs = append(refs, h.Ref)
		}
	}
	orphans, err := st.Orphans(ctx, refs, f.olderThan)
	if err != nil {
		return storeError(err)
	}
	if len(orphans) == 0 {
		fmt.Fprintf(streams.Out, "no interrupted versions in %d %s\n", len(refs), plural(len(refs), "layer", "layers"))
		return nil
	}
	// Counted in entries, the items --delete removes: the version's metadata item stays as
	// a tombstone.
	tw := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "LAYER\tVERSION\tCLAIMED\tENTRIES\tSTATE\n")
	entries, removed, removedEntries, recent := 0, 0, 0, 0
	var firstErr error
	for _, orphan := range orphans {
		n := max(orphan.Items-1, 0)
		entries += n
		state := "interrupted"
		switch {
		case orphan.Recent:
			state = "recent (kept: its publish may still be running)"
			recent++
		case f.delete:
			if err := st.RemoveOrphan(ctx, orphan); err != nil {
				state = "kept: " + err.Error()
				if firstErr == nil {
					firstErr = err
				}
			} else {
				state = "removed"
				removed++
				removedEntries += n
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", orphan.Ref, orphan.Version, orphan.ClaimedAt.UTC().Format(time.RFC3339), n, state)
	}
	tw.Flush()
	switch {
	case f.delete:
		fmt.Fprintf(streams.Out, "%d interrupted %s: removed %d (%d %s), %d recent kept\n", len(orphans), plural(len(orphans), "version", "versions"), removed, removedEntries, plural(removedEntries, "entry", "entries"), recent)
	default:
		fmt.Fprintf(streams.Out, "%d interrupted %s holding %d %s; run with --delete to remove those older than %s\n", len(orphans), plural(len(orphans), "version", "versions"), entries, plural(entries, "entry", "entries"), f.olderThan)
	}
	return storeError(firstErr)
}
