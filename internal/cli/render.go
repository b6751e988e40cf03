package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/render"
)

type renderOptions struct {
	files       []string
	cluster     string
	environment string
	output      string
	components  []string
}

func newRenderCommand(streams IOStreams, env Env) *cobra.Command {
	var o renderOptions
	cmd := &cobra.Command{
		Use:   "render -f PATH [-f PATH ...] --cluster NAME",
		Short: "Render a cluster's manifests from layer files, offline",
		Long: `Render merges the layer files of a cluster (global, env/<environment>, cluster/<name>),
validates the result and prints the manifests, exactly as generate would from DynamoDB.
Files may be YAML or JSON; a directory is read recursively in lexical order. Layers of other
clusters and environments in the same files are ignored.

Invalid input exits with code 1, prints nothing on stdout and lists every problem on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC(env)
			return runRender(cmd.Context(), streams, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, "layer file or directory (repeatable)")
	f.StringVar(&o.cluster, "cluster", "", "cluster to render (required)")
	f.StringVar(&o.environment, "environment", "", "environment layer to merge (default: the cluster record's)")
	f.StringVarP(&o.output, "output", "o", render.FormatYAML, "output format: yaml or json")
	f.StringSliceVar(&o.components, "components", nil, "render only these components ("+joinComponents()+")")
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagRequired("cluster")
	return cmd
}

func runRender(ctx context.Context, streams IOStreams, o renderOptions) error {
	if err := checkFormat(o.output); err != nil {
		return err
	}
	all, err := readInterruptibly(ctx, func() ([]config.Layer, error) { return config.ReadLayerFiles(o.files) })
	if err != nil {
		return err
	}
	layers, err := config.SelectLayers(all, o.cluster, o.environment)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	out, err := ops.Render(layers, o.cluster, render.Options{Components: o.components, Format: o.output}, nil)
	if err != nil {
		return withCode(ExitInvalid, describeInvalid(err))
	}
	_, err = out.WriteTo(streams.Out)
	return err
}

// readInterruptibly runs read (reading layer files) and gives up when ctx ends: opening or
// reading a FIFO or a terminal nobody writes to blocks in a system call that no deadline
// reaches, and SIGINT/SIGTERM must still stop the command. The abandoned read ends with the
// process. A failed read is invalid input (exit 1); an interrupted one exit 3.
func readInterruptibly[T any](ctx context.Context, read func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, withCode(ExitInvalid, r.err)
	case <-ctx.Done():
		var zero T
		return zero, withCode(ExitFailed, fmt.Errorf("reading the layer files was interrupted: %w", context.Cause(ctx)))
	}
}

// describeInvalid prefixes validation errors with a count so the list reads as one report.
func describeInvalid(err error) error {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		n := len(ve.Problems)
		noun := "problems"
		if n == 1 {
			noun = "problem"
		}
		return fmt.Errorf("the configuration has %d %s:\n%w", n, noun, err)
	}
	return err
}

func checkFormat(format string) error {
	if format != render.FormatYAML && format != render.FormatJSON {
		return withCode(ExitUsage, fmt.Errorf("--output %q: use yaml or json", format))
	}
	return nil
}

func joinComponents() string { return strings.Join(render.Components, ", ") }
