package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

func newTableCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "Manage the DynamoDB table"}
	o := &operator{streams: streams, env: env}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the table (on-demand billing) and wait until it is active; idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				created, err := st.CreateTable(ctx)
				if err != nil {
					return storeError(err)
				}
				if created {
					fmt.Fprintf(streams.Out, "table %s created (on-demand) and active\n", st.Table())
				} else {
					fmt.Fprintf(streams.Out, "table %s already exists\n", st.Table())
				}
				return nil
			})
		},
	}
	o.addFlags(create)
	cmd.AddCommand(create, newTableUpgradeCommand(streams, env))
	return cmd
}

// tableUpgradeFlags are the flags of `table upgrade`.
type tableUpgradeFlags struct {
	dryRun bool
}

func newTableUpgradeCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	f := &tableUpgradeFlags{}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Move items an earlier release kept at other keys to the current key layout; idempotent",
		Long: `Move the items an earlier release kept at other keys to the current key layout
(docs/dynamodb.md, "Upgrading the key layout"): the rollouts and the change counter out of the
registry partition, each cluster's last-known-good and observation items out of its layer's
partition, into partitions of their own that serve's IAM policies are scoped to. Each item
moves in one transaction (written at the new key, deleted at the old one); an item a writer
changes meanwhile is left in place and the command exits 3: run it again. Run it once after
upgrading the operators' binary and serve; until then this release reads both places.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				return runTableUpgrade(ctx, streams, st, f)
			})
		},
	}
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "list what would move, write nothing")
	o.addFlags(cmd)
	return cmd
}

// warnOldLayout tells on stderr that the table holds items at an earlier release's key layout.
func warnOldLayout(w io.Writer, table string, legacy []store.ItemKey) {
	if len(legacy) == 0 {
		return
	}
	fmt.Fprintf(w, "warning: table %s holds %d item(s) at the key layout of an earlier release (%s): they are read, but a rollout there cannot take a step; run `dynamo-cmp table upgrade` (docs/dynamodb.md)\n", table, len(legacy), legacy[0])
}

func runTableUpgrade(ctx context.Context, streams IOStreams, st *store.Store, f *tableUpgradeFlags) error {
	moves, err := st.UpgradeLayout(ctx, f.dryRun)
	verb, removed := "moved", "removed"
	if f.dryRun {
		verb, removed = "would move", "would remove"
	}
	for _, m := range moves {
		if m.Superseded() {
			fmt.Fprintf(streams.Out, "%s %s: %s (the current key holds a newer one)\n", removed, m.From, m.Why)
			continue
		}
		fmt.Fprintf(streams.Out, "%s %s to %s: %s\n", verb, m.From, m.To, m.Why)
	}
	if err != nil {
		return storeError(err)
	}
	if len(moves) == 0 {
		fmt.Fprintf(streams.Out, "table %s is at the current key layout: nothing to move\n", st.Table())
	}
	return nil
}
