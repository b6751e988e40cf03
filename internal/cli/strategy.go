package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/wave"
)

// strategyPutFlags are rollout strategy put's flags.
type strategyPutFlags struct {
	file  string
	actor string
}

// strategyGetFlags are rollout strategy get's flags.
type strategyGetFlags struct {
	name   string
	output string
}

func newStrategyCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "strategy",
		Short: "Manage the rollout strategies: the waves a publish of a global or environment layer goes through",
		Long: `A rollout strategy is a list of waves, each selecting clusters (labelSelector, namePattern,
environment, percent of the remaining clusters) with a bake time and a failure threshold. A
strategy applies to the layers it lists ("global", "env/prod", "env/*", "*"); the strategy
named "default" applies to every global and environment layer no other strategy lists. See
docs/rollouts.md for the format.`,
	}

	po := &operator{streams: streams, env: env}
	var pf strategyPutFlags
	put := &cobra.Command{
		Use:   "put -f FILE",
		Short: "Store a rollout strategy (YAML or JSON), replacing the one of the same name",
		Long: `Put reads a strategy from FILE ("-": standard input), checks it strictly (an unknown field,
a bad selector or duration is refused with exit 1, naming the wave and the field; nothing is
stored) and stores it. A rollout already running keeps the waves it was planned with; the
strategy applies to the next publishes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return po.runStrategyPut(cmd.Context(), pf)
		},
	}
	put.Flags().StringVarP(&pf.file, "file", "f", "", "strategy file, YAML or JSON (required; - for standard input)")
	put.Flags().StringVar(&pf.actor, "actor", "", "who: recorded with the strategy (default: the AWS caller identity)")
	po.addFlags(put)

	gro := &operator{streams: streams, env: env}
	var gf strategyGetFlags
	get := &cobra.Command{
		Use:   "get NAME [-o yaml|json]",
		Short: "Print a stored rollout strategy (in the format strategy put reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gf.name = args[0]
			return gro.runStrategyGet(cmd.Context(), gf)
		},
	}
	get.Flags().StringVarP(&gf.output, "output", "o", "yaml", "yaml or json")
	gro.addFlags(get)

	lo := &operator{streams: streams, env: env}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the rollout strategies: their layers and waves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lo.runStrategyList(cmd.Context())
		},
	}
	lo.addFlags(list)

	do := &operator{streams: streams, env: env}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a rollout strategy (a rollout already running keeps its waves)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return do.runStrategyDelete(cmd.Context(), args[0])
		},
	}
	do.addFlags(del)

	cmd.AddCommand(put, get, list, del)
	return cmd
}

// runStrategyPut checks and stores a strategy.
func (o *operator) runStrategyPut(ctx context.Context, f strategyPutFlags) error {
	var data []byte
	var err error
	switch f.file {
	case "":
		return withCode(ExitUsage, fmt.Errorf("-f is required: the strategy file (YAML or JSON)"))
	case "-":
		data, err = io.ReadAll(o.streams.In)
	default:
		data, err = os.ReadFile(f.file)
	}
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("read the strategy: %w", err))
	}
	s, err := wave.ParseStrategy(data)
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("%s: %w; nothing was stored", f.file, err))
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Strategies(ctx)
		if err != nil {
			return storeError(err)
		}
		verb := "stored"
		if slices.ContainsFunc(stored, func(x store.StoredStrategy) bool { return x.Name == s.Name }) {
			verb = "replaced"
		}
		if err := st.PutStrategy(ctx, s, o.actor(ctx, st, f.actor)); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(o.streams.Out, "%s strategy %s for %s: %s\n", verb, s.Name, strategyLayers(s), wavesSummary(s.Waves))
		return nil
	})
}

// runStrategyGet prints one strategy.
func (o *operator) runStrategyGet(ctx context.Context, f strategyGetFlags) error {
	if err := checkFormat(f.output); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Strategies(ctx)
		if err != nil {
			return storeError(err)
		}
		i := slices.IndexFunc(stored, func(x store.StoredStrategy) bool { return x.Name == f.name })
		if i < 0 {
			return withCode(ExitInvalid, noStrategy(f.name, stored))
		}
		s := stored[i]
		if f.output == "json" {
			enc := json.NewEncoder(o.streams.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(s.Strategy)
		}
		out, err := yaml.Marshal(s.Strategy)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "# stored %s by %s\n%s", stamp(s.At), cell(s.Actor), out)
		return nil
	})
}

// runStrategyList prints the strategies as a table.
func (o *operator) runStrategyList(ctx context.Context) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Strategies(ctx)
		if err != nil {
			return storeError(err)
		}
		if len(stored) == 0 {
			fmt.Fprintln(o.streams.Out, "no rollout strategies: every publish reaches its clusters at once (store one with: dynamo-cmp rollout strategy put -f FILE)")
			return nil
		}
		tw := newTable(o.streams.Out, "NAME", "LAYERS", "WAVES", "UPDATED", "BY")
		for _, s := range stored {
			tw.row(s.Name, strategyLayers(s.Strategy), wavesSummary(s.Waves), s.At.UTC().Format(time.RFC3339), s.Actor)
		}
		return tw.flush()
	})
}

// runStrategyDelete deletes a strategy; exit 1 when there is none of that name.
func (o *operator) runStrategyDelete(ctx context.Context, name string) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		found, err := st.DeleteStrategy(ctx, name)
		if err != nil {
			return storeError(err)
		}
		if !found {
			stored, err := st.Strategies(ctx)
			if err != nil {
				return storeError(err)
			}
			return withCode(ExitInvalid, noStrategy(name, stored))
		}
		fmt.Fprintf(o.streams.Out, "deleted strategy %s (rollouts already running keep their waves)\n", name)
		return nil
	})
}

func noStrategy(name string, stored []store.StoredStrategy) error {
	if len(stored) == 0 {
		return fmt.Errorf("no strategy %q: the table has no rollout strategies", name)
	}
	names := map[string]bool{}
	for _, s := range stored {
		names[s.Name] = true
	}
	return fmt.Errorf("no strategy %q: the table has %s", name, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
}

// strategyLayers says which layers a strategy applies to.
func strategyLayers(s wave.Strategy) string {
	layers := strings.Join(s.Layers, ", ")
	switch {
	case s.Name == wave.DefaultStrategy && layers == "":
		return "every global and environment layer no other strategy lists"
	case s.Name == wave.DefaultStrategy:
		return layers + " (and, as the default, every global and environment layer no other strategy lists)"
	case layers == "":
		return "no layer unless a publish names it (--strategy " + s.Name + ")"
	}
	return layers
}

// wavesSummary is one line about a strategy's waves: "2 waves: canary (namePattern dev-a,
// bake 10s), rest".
func wavesSummary(waves []wave.Wave) string {
	parts := make([]string, len(waves))
	for i, w := range waves {
		var sel []string
		if w.LabelSelector != "" {
			sel = append(sel, "labelSelector "+w.LabelSelector)
		}
		if w.NamePattern != "" {
			sel = append(sel, "namePattern "+w.NamePattern)
		}
		if w.Environment != "" {
			sel = append(sel, "environment "+w.Environment)
		}
		if w.Percent > 0 {
			sel = append(sel, fmt.Sprintf("%d%%", w.Percent))
		}
		if w.Bake > 0 {
			sel = append(sel, "bake "+time.Duration(w.Bake).String())
		}
		if w.MaxFailures > 0 {
			sel = append(sel, fmt.Sprintf("maxFailures %d", w.MaxFailures))
		}
		parts[i] = w.Name
		if len(sel) > 0 {
			parts[i] += " (" + strings.Join(sel, ", ") + ")"
		}
	}
	return fmt.Sprintf("%d %s: %s", len(waves), plural(len(waves), "wave", "waves"), strings.Join(parts, ", "))
}
