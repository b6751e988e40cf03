package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// historyFlags are config history's flags.
type historyFlags struct {
	layer string
	limit int
}

func newHistoryCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f historyFlags
	cmd := &cobra.Command{
		Use:   "history --layer LAYER",
		Short: "List a layer's versions and its audit trail (publishes and rollbacks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runHistory(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.layer, "layer", "", "layer (required)")
	cmd.Flags().IntVar(&f.limit, "limit", 20, "show at most this many versions and audit records (0: all)")
	o.addFlags(cmd)
	return cmd
}

// runHistory prints a layer's versions, then its audit trail.
func (o *operator) runHistory(ctx context.Context, f historyFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		heads, err := st.Heads(ctx, ref)
		if err != nil {
			return storeError(err)
		}
		versions, err := st.Versions(ctx, ref)
		if err != nil {
			return storeError(err)
		}
		if len(versions) == 0 {
			return storeError(fmt.Errorf("layer %s has no versions: %w", ref, store.ErrNotFound))
		}
		audit, err := st.Audit(ctx, ref, f.limit)
		if err != nil {
			return storeError(err)
		}
		tw := newTable(o.streams.Out, "VERSION", "HEAD", "PUBLISHED", "AT", "ACTOR", "ENTRIES", "MESSAGE")
		if h, ok := heads[ref]; ok && h.Version == 0 {
			// A rollout of the layer's first version was rolled back: no entries, as before it.
			tw.row(0, "*", "-", h.At.UTC().Format(time.RFC3339), h.Actor, 0, "no entries (rolled back to before the first publish)")
		}
		for i, v := range versions {
			if f.limit > 0 && i >= f.limit {
				break
			}
			head := ""
			if heads[ref].Version == v.Version {
				head = "*"
			}
			published := "yes"
			if !v.Published {
				published = "no (interrupted)"
			}
			tw.row(v.Version, head, published, v.At.UTC().Format(time.RFC3339), v.Actor, v.Entries, oneline.Shorten(v.Message, 72))
		}
		tw.flush()
		fmt.Fprintln(o.streams.Out)
		tw = newTable(o.streams.Out, "AT", "ACTION", "FROM", "TO", "ACTOR", "TRACE", "MESSAGE")
		for _, a := range audit {
			tw.row(a.At.UTC().Format(time.RFC3339), a.Action, a.From, a.To, a.Actor, a.TraceID, oneline.Shorten(a.Message, 72))
		}
		return tw.flush()
	})
}
