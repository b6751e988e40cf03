package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/provenance"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

type explainFlags struct {
	cluster string
	object  string
	version string
	files   []string
	output  string
}

func newExplainCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain --cluster NAME [--object Kind/namespace/name] [--version VERSION] [-f PATH] [-o table|json]",
		Short: "Show which layer and version set each field of a cluster's rendered objects",
		Long: `Explain renders a cluster's published configuration as generate would and prints, for every
leaf field of every rendered object (or of the one --object names: Kind/namespace/name, or
Kind/name for a cluster-scoped object), its value and where it came from: the layer and
version that set it (global@7, env/prod@3, cluster/prod-eu1@12) and the entry field, the
variables it was written with, the patch that changed it, or "default" for what the
renderer adds itself (derived names, defaults). With -f it explains
layer files instead, like render.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.explain(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cluster, "cluster", "", "cluster (required)")
	fl.StringVar(&f.object, "object", "", "explain only this object: Kind/namespace/name or Kind/name")
	fl.StringVar(&f.version, "version", config.LatestVersion, "configVersion (g7.e3.c12) or latest")
	fl.StringArrayVarP(&f.files, "file", "f", nil, "explain these layer files or directories instead of the published layers (repeatable)")
	fl.StringVarP(&f.output, "output", "o", "table", "table or json")
	_ = cmd.MarkFlagRequired("cluster")
	o.addFlags(cmd)
	return cmd
}

// objectFilter selects objects by Kind/namespace/name or Kind/name.
type objectFilter struct{ kind, namespace, name string }

func parseObjectFlag(s string) (*objectFilter, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			parts = nil
		}
	}
	switch len(parts) {
	case 2:
		return &objectFilter{kind: parts[0], name: parts[1]}, nil
	case 3:
		return &objectFilter{kind: parts[0], namespace: parts[1], name: parts[2]}, nil
	default:
		return nil, withCode(ExitUsage, fmt.Errorf("--object %s: write Kind/namespace/name, or Kind/name for a cluster-scoped object", strconv.Quote(s)))
	}
}

func (f *objectFilter) keep(o ops.ExplainedObject) bool {
	return f == nil || (o.Kind == f.kind && o.Namespace == f.namespace && o.Name == f.name)
}

func (o *operator) explain(ctx context.Context, f explainFlags) error {
	if err := checkTableOrJSON(f.output); err != nil {
		return err
	}
	filter, err := parseObjectFlag(f.object)
	if err != nil {
		return err
	}
	var layers []config.Layer
	var version string
	if len(f.files) > 0 {
		if f.version != config.LatestVersion {
			return withCode(ExitUsage, fmt.Errorf("--version pins published layers; it does not go with -f"))
		}
		all, err := layerfile.ReadLayerFiles(f.files)
		if err != nil {
			return withCode(ExitInvalid, err)
		}
		if layers, err = config.SelectLayers(all, f.cluster, ""); err != nil {
			return withCode(ExitInvalid, err)
		}
		version = config.Digest(layers)
	} else {
		err := o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
			r, err := renderFromStore(ctx, st, f.cluster, f.version, render.Options{Format: render.FormatJSON})
			if err != nil {
				return err
			}
			layers, version = r.layers, r.version
			return nil
		})
		if err != nil {
			return err
		}
	}
	objects, err := ops.Explain(layers, f.cluster, filter.keep)
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("cluster %s at %s: %w", f.cluster, version, describeInvalid(err)))
	}
	if filter != nil && len(objects) == 0 {
		return withCode(ExitInvalid, fmt.Errorf("cluster %s at %s renders no object %s", f.cluster, version, quoteIfOdd(f.object)))
	}
	if f.output == "json" {
		return writeExplainJSON(o.streams.Out, f.cluster, version, objects)
	}
	return writeExplainTable(o.streams.Out, f.cluster, version, objects)
}

func writeExplainJSON(w io.Writer, cluster, version string, objects []ops.ExplainedObject) error {
	type field struct {
		provenance.FieldOrigin
		Origin string `json:"origin"`
	}
	type object struct {
		ops.ExplainedObject
		Fields []field `json:"fields"`
	}
	doc := struct {
		Cluster       string   `json:"cluster"`
		ConfigVersion string   `json:"configVersion"`
		Objects       []object `json:"objects"`
	}{Cluster: cluster, ConfigVersion: version, Objects: []object{}}
	for _, o := range objects {
		obj := object{ExplainedObject: o, Fields: []field{}}
		for _, f := range o.Fields {
			obj.Fields = append(obj.Fields, field{FieldOrigin: f, Origin: f.Origin()})
		}
		doc.Objects = append(doc.Objects, obj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func writeExplainTable(w io.Writer, cluster, version string, objects []ops.ExplainedObject) error {
	fmt.Fprintf(w, "cluster %s at %s\n", quoteIfOdd(cluster), version)
	for _, o := range objects {
		head := quoteIfOdd(o.Kind) + " "
		if o.Namespace != "" {
			head += quoteIfOdd(o.Namespace) + "/"
		}
		head += quoteIfOdd(o.Name)
		if len(o.Patches) > 0 {
			names := slices.Clone(o.Patches)
			for i, n := range names {
				names[i] = quoteIfOdd(n)
			}
			head += "  (patched by " + strings.Join(names, ", ") + ")"
		}
		fmt.Fprintf(w, "\n%s\n", head)
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  FIELD\tVALUE\tORIGIN\tSET IN\n")
		for _, f := range o.Fields {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Path, displayValue(f.Value), f.Origin(), setIn(f))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// Defaults have nothing in the last column: no padding after them.
		for _, line := range strings.SplitAfter(table.String(), "\n") {
			if line != "" {
				fmt.Fprintln(w, strings.TrimRight(line, " \n"))
			}
		}
	}
	return nil
}

// setIn names the entry field or patch that set a value, with the variables it used.
func setIn(f provenance.FieldOrigin) string {
	var s string
	switch {
	case f.Patch != nil:
		s = f.Patch.Source.Where()
	case f.Source != nil:
		s = f.Source.Where()
	}
	for _, v := range f.Variables {
		s += "  ${" + v.Name + "} ← " + v.Source.LayerVersion()
	}
	return s
}

// displayValue shows a value on one line: plain strings as they are, anything that could be
// mistaken or that holds control or invisible characters quoted, long values shortened.
func displayValue(v any) string {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return quoteIfOdd(oneline.Cut(s, 80))
}

// quoteIfOdd quotes s when it is empty, has spaces at its ends or holds a character that is
// not printable (tabs and newlines included), so that a value can neither break the table
// nor hide.
func quoteIfOdd(s string) string {
	if s == "" || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}
