package cli

import (
	"context"
	"fmt"

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
	cmd.AddCommand(create)
	return cmd
}
