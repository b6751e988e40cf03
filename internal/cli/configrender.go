package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// configRenderFlags are config render's flags.
type configRenderFlags struct {
	cluster, version, output string
	components               []string
}

func newConfigRenderCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f configRenderFlags
	cmd := &cobra.Command{
		Use:   "render --cluster NAME [--version VERSION] [-o yaml|json]",
		Short: "Render a cluster's published configuration, as generate would, without Argo CD",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runConfigRender(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "cluster (required)")
	cmd.Flags().StringVar(&f.version, "version", config.LatestVersion, "configVersion (g7.e3.c12) or latest")
	cmd.Flags().StringVarP(&f.output, "output", "o", render.FormatYAML, "yaml or json")
	cmd.Flags().StringSliceVar(&f.components, "components", nil, "render only these components")
	_ = cmd.MarkFlagRequired("cluster")
	o.addFlags(cmd)
	return cmd
}

// runConfigRender prints a cluster's manifests at a configVersion, as generate would.
func (o *operator) runConfigRender(ctx context.Context, f configRenderFlags) error {
	if err := checkFormat(f.output); err != nil {
		return err
	}
	if err := parseClusterFlag(f.cluster); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		r, err := renderFromStore(ctx, st, f.cluster, f.version, render.Options{Format: f.output, Components: f.components})
		if err != nil {
			return err
		}
		_, err = o.streams.Out.Write(r.out.Bytes())
		return err
	})
}

type storeRender struct {
	out     *render.Manifests
	version string
	layers  []config.Layer // as read, lowest first
}

// renderFromStore reads a cluster's layers at a configVersion ("latest" or g7.e3.c12) and the
// policies, and renders them with ops.Render, as generate does.
func renderFromStore(ctx context.Context, st *store.Store, cluster, version string, opts render.Options) (*storeRender, error) {
	req := store.ClusterRequest{Cluster: cluster, Policies: true}
	if version != "" && version != config.LatestVersion {
		v, err := config.ParseConfigVersion(version)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		req.Version = &v
	}
	read, err := st.ReadCluster(ctx, req)
	if err != nil {
		return nil, storeError(notRegistered(ctx, st, cluster, req.Version, err))
	}
	resolved := read.Version.String()
	out, err := ops.Render(read.Layers, cluster, read.Policies, opts, nil)
	if err != nil {
		return nil, withCode(ExitInvalid, fmt.Errorf("cluster %s at %s: %w", cluster, resolved, describeInvalid(err)))
	}
	return &storeRender{out: out, version: resolved, layers: read.Layers}, nil
}

// notRegistered names the real cause when a pinned read of a cluster finds no version of its
// layer and the cluster was never registered ("layer cluster/x has no version 1" blames the
// version). It reads the cluster layer's head only on that error path.
func notRegistered(ctx context.Context, st *store.Store, cluster string, pinned *config.ConfigVersion, err error) error {
	if pinned == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ref := config.ClusterLayer(cluster)
	heads, herr := st.Heads(ctx, ref)
	if herr != nil {
		return err
	}
	if _, ok := heads[ref]; ok {
		return err
	}
	return fmt.Errorf("cluster %s is not registered: its layer %s has never been published in table %s: %w", cluster, ref, st.Table(), store.ErrNotFound)
}
