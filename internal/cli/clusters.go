package cli

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
)

func newClustersCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{Use: "clusters", Short: "Inspect the registered clusters"}
	o := &operator{streams: streams, env: env}
	var output string
	list := &cobra.Command{
		Use:   "list [-o table|json]",
		Short: "List registered clusters with their environment, region and configVersion",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkTableOrJSON(output); err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				inv, err := registry.ReadInventory(ctx, st)
				if err != nil {
					return storeError(err)
				}
				if output == "json" {
					type row struct {
						Cluster       string            `json:"cluster"`
						Environment   string            `json:"environment"`
						Region        string            `json:"region"`
						ConfigVersion string            `json:"configVersion"`
						Projects      []string          `json:"projects,omitempty"`
						Labels        map[string]string `json:"labels,omitempty"`
					}
					rows := []row{}
					for _, c := range inv.Clusters {
						rows = append(rows, row{c.Name, c.Record.Environment, c.Record.Region, c.Version.String(), c.Record.Projects, c.Record.Labels})
					}
					enc := json.NewEncoder(streams.Out)
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := newTable(streams.Out, "CLUSTER", "ENVIRONMENT", "REGION", "CONFIG VERSION", "LABELS")
				for _, c := range inv.Clusters {
					tw.row(c.Name, c.Record.Environment, c.Record.Region, c.Version.String(), labelString(c.Record.Labels))
				}
				return tw.flush()
			})
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	o.addFlags(list)
	cmd.AddCommand(list, newClustersStatusCommand(streams, env))
	return cmd
}

func labelString(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
