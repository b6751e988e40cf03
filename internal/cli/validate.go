package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
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
		Long: `Validate renders a cluster's published configuration as generate would and lists every
problem. Without --version it validates what the dynamo-cmp ApplicationSet generator serves
the cluster (which differs from the layer heads while a rollout in waves has not reached it)
and the heads, one line each, naming the configVersion. Exit 1 if any of them is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runValidate(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "cluster (required)")
	cmd.Flags().StringVar(&f.version, "version", "", "configVersion (g7.e3.c12) or latest (default: what the generator serves, and the heads)")
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
		if f.version != "" {
			r, err := renderFromStore(ctx, st, f.cluster, f.version, render.Options{})
			if err != nil {
				return err
			}
			fmt.Fprintf(o.streams.Out, "cluster %s at %s is valid: %d objects\n", f.cluster, r.version, r.out.Len())
			return nil
		}
		return o.validateServedAndHeads(ctx, st, f.cluster)
	})
}

// validateServedAndHeads validates the configVersion the generator serves a cluster and that
// of its layer heads (one line when they are the same), and reports every problem of both.
func (o *operator) validateServedAndHeads(ctx context.Context, st *store.Store, cluster string) error {
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		return storeError(err)
	}
	i := slices.IndexFunc(inv.Clusters, func(c registry.ClusterInfo) bool { return c.Name == cluster })
	if i < 0 { // not registered, or no cluster record: the store's read says which
		if _, err := renderFromStore(ctx, st, cluster, config.LatestVersion, render.Options{}); err != nil {
			return err
		}
		return storeError(fmt.Errorf("cluster %s is not registered: %w", cluster, store.ErrNotFound))
	}
	c := inv.Clusters[i]
	type line struct {
		label   string
		version config.ConfigVersion
	}
	var lines []line
	switch note := inv.ServedNote(c); {
	case c.Served == c.Version:
		lines = append(lines, line{"served and heads " + c.Served.String(), c.Served})
	case note != "":
		lines = append(lines, line{fmt.Sprintf("served %s (%s)", c.Served, note), c.Served}, line{"heads " + c.Version.String(), c.Version})
	default:
		lines = append(lines, line{"served " + c.Served.String(), c.Served}, line{"heads " + c.Version.String(), c.Version})
	}
	var invalid []error
	for _, l := range lines {
		v := l.version
		read, err := st.ReadCluster(ctx, store.ClusterRequest{Cluster: c.Name, Environment: c.Record.Environment, Version: &v, Policies: true})
		var out *render.Manifests
		if err == nil {
			if out, err = ops.Render(read.Layers, c.Name, read.Policies, render.Options{}, nil); err != nil {
				err = withCode(ExitInvalid, describeInvalid(err))
			}
		} else {
			err = storeError(err)
		}
		var ee *exitError
		switch {
		case err == nil:
			fmt.Fprintf(o.streams.Out, "cluster %s: %s: valid (%d objects)\n", c.Name, l.label, out.Len())
		case errors.As(err, &ee) && ee.code == ExitInvalid:
			fmt.Fprintf(o.streams.Out, "cluster %s: %s: invalid\n", c.Name, l.label)
			invalid = append(invalid, fmt.Errorf("cluster %s, %s: %w", c.Name, l.label, err))
		default:
			return err
		}
	}
	if len(invalid) > 0 {
		return withCode(ExitInvalid, errors.Join(invalid...))
	}
	return nil
}
