package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// getFlags are config get's flags.
type getFlags struct {
	layer   string
	output  string
	version int
}

func newGetCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f getFlags
	cmd := &cobra.Command{
		Use:   "get --layer LAYER [--version N] [-o yaml|json]",
		Short: "Print a version of a layer (default: the published head) as a layer document",
		Long: `Get prints a version of a layer as a layer document. In YAML it starts with the header
"# dynamo-cmp: layer=LAYER version=N" (with -o json that line goes to stderr): edit the file and
"config publish -f" it, and the publish is refused (exit 3) if someone published meanwhile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runGet(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.layer, "layer", "", "layer (required)")
	cmd.Flags().IntVar(&f.version, "version", 0, "version to print (default: the head)")
	cmd.Flags().StringVarP(&f.output, "output", "o", render.FormatYAML, "yaml or json")
	o.addFlags(cmd)
	return cmd
}

// runGet prints one version of a layer, with its version header.
func (o *operator) runGet(ctx context.Context, f getFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	if err := checkFormat(f.output); err != nil {
		return err
	}
	if f.version < 0 {
		return withCode(ExitUsage, fmt.Errorf("--version %d: versions are numbered from 1 (config history lists them; leave the flag out for the head)", f.version))
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		version := f.version
		if version == 0 {
			heads, err := st.Heads(ctx, ref)
			if err != nil {
				return storeError(err)
			}
			h, ok := heads[ref]
			if !ok {
				return storeError(fmt.Errorf("layer %s has never been published: %w", ref, store.ErrNotFound))
			}
			version = h.Version
		}
		l, err := st.ReadVersion(ctx, ref, version)
		if err != nil {
			return storeError(err)
		}
		// The version read, for "config publish" to check (see baseversion.go):
		// a comment header in YAML, a line on stderr with JSON.
		if f.output == render.FormatJSON {
			fmt.Fprint(o.streams.ErrOut, versionHeader(ref, l.Version))
		} else {
			fmt.Fprint(o.streams.Out, versionHeader(ref, l.Version))
		}
		return writeLayer(o.streams, l, f.output)
	})
}

// writeLayer writes a layer document as YAML or JSON.
func writeLayer(streams IOStreams, l config.Layer, output string) error {
	if output == render.FormatJSON {
		data, err := layerfile.MarshalJSON(l)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err = streams.Out.Write(buf.Bytes())
		return err
	}
	data, err := layerfile.MarshalYAML(l)
	if err != nil {
		return err
	}
	_, err = streams.Out.Write(data)
	return err
}
