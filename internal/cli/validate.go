package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/render"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// validateFlags are config validate's flags.
type validateFlags struct {
	cluster string
	version string
}

func newValidateCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate --cluster NAME [--version VERSION]",
		Short: "Validate a cluster's published configuration and list every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runValidate(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "cluster (required)")
	cmd.Flags().StringVar(&f.version, "version", config.LatestVersion, "configVersion (g7.e3.c12) or latest")
	_ = cmd.MarkFlagRequired("cluster")
	o.addFlags(cmd)
	return cmd
}

// runValidate renders a cluster's published configuration and says whether it is valid.
func (o *operator) runValidate(ctx context.Context, f validateFlags) error {
	if err := parseClusterFlag(f.cluster); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		r, err := renderFromStore(ctx, st, f.cluster, f.version, render.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "cluster %s at %s is valid: %d objects\n", f.cluster, r.version, r.out.Len())
		return nil
	})
}
