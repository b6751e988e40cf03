package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// diffFlags are config diff's flags: --layer with version numbers, or --cluster with
// configVersions.
type diffFlags struct {
	layer, cluster string
	from, to       string
}

func newDiffCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff (--layer LAYER --from N --to M | --cluster NAME --from VERSION --to VERSION)",
		Short: "Diff two versions of a layer, or a cluster's rendered manifests at two configVersions",
		Long: `With --layer, diff compares two versions of a layer entry by entry. With --cluster, it
renders the cluster at two configVersions (g7.e3.c12, or "latest") and compares the
manifests object by object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runDiff(cmd.Context(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.layer, "layer", "", "layer whose versions to compare")
	fs.StringVar(&f.cluster, "cluster", "", "cluster whose rendered manifests to compare")
	fs.StringVar(&f.from, "from", "", "older version (layer: N; cluster: configVersion or latest)")
	fs.StringVar(&f.to, "to", "", "newer version")
	o.addFlags(cmd)
	return cmd
}

// runDiff prints the changes between two versions of a layer or of a cluster's manifests.
func (o *operator) runDiff(ctx context.Context, f diffFlags) error {
	if (f.layer == "") == (f.cluster == "") {
		return withCode(ExitUsage, fmt.Errorf("give either --layer or --cluster"))
	}
	if f.from == "" || f.to == "" {
		return withCode(ExitUsage, fmt.Errorf("--from and --to are required"))
	}
	var (
		ref  config.LayerRef
		a, b int
		err  error
	)
	if f.cluster != "" {
		if err := parseClusterFlag(f.cluster); err != nil {
			return err
		}
	} else {
		if ref, err = parseLayerFlag(f.layer); err != nil {
			return err
		}
		if a, err = layerVersionFlag("--from", f.from); err != nil {
			return err
		}
		if b, err = layerVersionFlag("--to", f.to); err != nil {
			return err
		}
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		from, to := f.from, f.to
		var changes []ops.Change
		if f.layer != "" {
			la, err := st.ReadVersion(ctx, ref, a)
			if err != nil {
				return storeError(err)
			}
			lb, err := st.ReadVersion(ctx, ref, b)
			if err != nil {
				return storeError(err)
			}
			changes = ops.Diff(la.Entries, lb.Entries)
		} else {
			before, err := renderFromStore(ctx, st, f.cluster, from, render.Options{Format: render.FormatYAML})
			if err != nil {
				return err
			}
			after, err := renderFromStore(ctx, st, f.cluster, to, render.Options{Format: render.FormatYAML})
			if err != nil {
				return err
			}
			if changes, err = ops.ManifestChanges(before.out.Bytes(), after.out.Bytes()); err != nil {
				return err
			}
			from, to = before.version, after.version
		}
		printChanges(o.streams.Out, changes)
		subject := f.layer
		if subject == "" {
			subject = "cluster " + f.cluster
		}
		fmt.Fprintf(o.streams.Out, "%s %s → %s: %s\n", subject, from, to, ops.Summary(changes))
		return nil
	})
}

// layerVersionFlag parses a layer version given on the command line: 0 (the empty layer, as
// before the first publish) or a published version number.
func layerVersionFlag(flag, s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, withCode(ExitUsage, fmt.Errorf("%s %s: a version number (config history lists them; 0 is the layer before its first publish)", flag, quoteShort(s)))
	}
	return v, nil
}
