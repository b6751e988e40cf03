package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

// exportFlags are config export's flags.
type exportFlags struct {
	layers []string
	dir    string
}

func newExportCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export [--layer LAYER ...] [--dir DIR]",
		Short: "Export the published head of layers as layer files (they publish back unchanged)",
		Long: `Export writes the head version of every layer (or of the given ones) as layer documents:
to stdout as one YAML stream, or with --dir as DIR/global.yaml, DIR/env/<env>.yaml and
DIR/cluster/<name>.yaml, which "dynamo-cmp render -f DIR" and "config publish" read back.
Each document starts with "# dynamo-cmp: layer=LAYER version=N": publishing the file back is
refused (exit 3) if the layer moved since the export.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runExport(cmd.Context(), f)
		},
	}
	cmd.Flags().StringArrayVar(&f.layers, "layer", nil, "layer to export (repeatable; default: all)")
	cmd.Flags().StringVar(&f.dir, "dir", "", "write one file per layer under this directory")
	o.addFlags(cmd)
	return cmd
}

// runExport writes the head of each layer as a layer document, to stdout or under a directory.
func (o *operator) runExport(ctx context.Context, f exportFlags) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		inv, err := registry.ReadInventory(ctx, st)
		if err != nil {
			return storeError(err)
		}
		var refs []config.LayerRef
		if len(f.layers) == 0 {
			for _, h := range sortedHeads(inv) {
				refs = append(refs, h.Ref)
			}
		}
		for _, l := range f.layers {
			ref, err := parseLayerFlag(l)
			if err != nil {
				return err
			}
			if _, ok := inv.Heads[ref]; !ok {
				return storeError(fmt.Errorf("layer %s has never been published: %w", ref, store.ErrNotFound))
			}
			refs = append(refs, ref)
		}
		for i, ref := range refs {
			l, err := st.ReadVersion(ctx, ref, inv.Heads[ref].Version)
			if err != nil {
				return storeError(err)
			}
			data, err := layerfile.MarshalYAML(l)
			if err != nil {
				return err
			}
			text := string(data)
			header := versionHeader(ref, l.Version)
			if f.dir == "" {
				if i > 0 {
					fmt.Fprintln(o.streams.Out, "---")
				}
				fmt.Fprint(o.streams.Out, header+text)
				continue
			}
			path := filepath.Join(f.dir, ref.String()+".yaml")
			if ref.Scope == config.ScopeGlobal {
				path = filepath.Join(f.dir, "global.yaml")
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return withCode(ExitFailed, err)
			}
			if err := os.WriteFile(path, []byte(header+text), 0o644); err != nil {
				return withCode(ExitFailed, err)
			}
			fmt.Fprintf(o.streams.ErrOut, "wrote %s (%s version %d)\n", path, ref, l.Version)
		}
		return nil
	})
}

func sortedHeads(inv *registry.Inventory) []store.Head {
	out := make([]store.Head, 0, len(inv.Heads))
	for _, h := range inv.Heads {
		out = append(out, h)
	}
	config.SortLayerRefs(out, func(h store.Head) config.LayerRef { return h.Ref })
	return out
}
