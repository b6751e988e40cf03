package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

type renderOptions struct {
	files       []string
	policies    []string
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

Every object is judged by the policy of the layers that wrote it, as publish and generate
judge it: the default policy, or the policies of --policy files (the format of dynamo-cmp
policy put; several per file, separated by ---). Render reads no table: to preview under the
stored policies, write them out with dynamo-cmp policy get NAME.

Invalid input exits with code 1, prints nothing on stdout and lists every problem on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC(env)
			return runRender(cmd.Context(), streams, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, "layer file or directory (repeatable)")
	f.StringArrayVar(&o.policies, "policy", nil, "policy file (repeatable; default: the default policy for every layer)")
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
	all, err := readInterruptibly(ctx, func() ([]config.Layer, error) { return layerfile.ReadLayerFiles(o.files) })
	if err != nil {
		return err
	}
	layers, err := config.SelectLayers(all, o.cluster, o.environment)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	policies, err := readInterruptibly(ctx, func() (policy.Set, error) { return readPolicyFiles(o.policies) })
	if err != nil {
		return err
	}
	out, err := render.Layers(layers, o.cluster, render.LayersOptions{Options: render.Options{Components: o.components, Format: o.output}, CheckerFor: policy.CheckerFor(policies)})
	if err != nil {
		return withCode(ExitInvalid, describeInvalid(err))
	}
	_, err = out.WriteTo(streams.Out)
	return err
}

// readPolicyFiles reads the policies of --policy files; a name used twice is an error.
func readPolicyFiles(files []string) (policy.Set, error) {
	var set policy.Set
	var errs []error
	where := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("--policy: %w", err))
			continue
		}
		ps, err := policy.ParseAll(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("--policy %s: %w", f, err))
			continue
		}
		for _, p := range ps {
			if prev, dup := where[p.Name]; dup {
				errs = append(errs, fmt.Errorf("--policy %s: policy %s is also in %s", f, p.Name, prev))
				continue
			}
			where[p.Name] = f
			set = append(set, p)
		}
	}
	return set, errors.Join(errs...)
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
		count, _ := problemList(ve, "\n", 0, nil)
		return fmt.Errorf("the configuration has %s:\n%w", count, err)
	}
	return err
}

// problemList is the one form in which commands report a configuration's validation
// problems: their count ("1 problem", "3 problems") and the problems joined by sep, every one
// when shown is 0, else the first shown and then more(how many are left out).
func problemList(ve *config.ValidationError, sep string, shown int, more func(rest int) string) (count, list string) {
	n := len(ve.Problems)
	problems := make([]string, 0, min(n, shown+1))
	for i, p := range ve.Problems {
		if shown > 0 && i == shown {
			problems = append(problems, more(n-shown))
			break
		}
		problems = append(problems, p.Error())
	}
	return fmt.Sprintf("%d %s", n, plural(n, "problem", "problems")), strings.Join(problems, sep)
}

func checkFormat(format string) error {
	if format != render.FormatYAML && format != render.FormatJSON {
		return withCode(ExitUsage, fmt.Errorf("--output %q: use yaml or json", format))
	}
	return nil
}

func joinComponents() string { return strings.Join(render.Components, ", ") }
