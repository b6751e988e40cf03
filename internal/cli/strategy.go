package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
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
		Long: `Put reads one strategy from FILE ("-": standard input), checks it strictly and stores it.
Unknown fields, values of the wrong type, bad selectors or durations are refused with exit 1,
every problem at once, each naming the wave (counted from 1) and the field; so is a file of
several strategies (YAML documents: put each on its own), and a wave whose environment is
outside every layer the strategy lists. Nothing is stored then.

After storing it, put prints every published global and environment layer with the strategy
it uses now and why (the layer named, env/*, *, the default, or none: all at once), and warns
when the strategy takes a layer over from another strategy, when another strategy keeps a
layer it lists (name order), and of each wave that matches no registered cluster (stored all
the same: clusters may be registered later). A rollout already running keeps the waves it
was planned with; the strategy applies to the next publishes.`,
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
		Short: "List the rollout strategies: their layers, description and waves",
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
		Long: `Delete removes a strategy (exit 1 if there is none of that name) and prints every published
global and environment layer with the strategy it uses now and why. A rollout already running
keeps its waves.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return do.runStrategyDelete(cmd.Context(), args[0])
		},
	}
	do.addFlags(del)

	cmd.AddCommand(put, get, list, del)
	return cmd
}

// runStrategyPut checks and stores a strategy, then says which strategy each layer uses now.
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
	s, err := rollout.ParseStrategy(data)
	if err := errors.Join(err, s.CheckScope()); err != nil {
		return withCode(ExitInvalid, refusedStrategy(f.file, err))
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		before, inv, err := strategiesAndInventory(ctx, st)
		if err != nil {
			return err
		}
		verb := "stored"
		after := slices.DeleteFunc(slices.Clone(before), func(x rollout.Strategy) bool { return x.Name == s.Name })
		if len(after) < len(before) {
			verb = "replaced"
		}
		after = append(after, s)
		if err := st.PutStrategy(ctx, s, o.actor(ctx, st, f.actor)); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(o.streams.Out, "%s strategy %s for %s: %s\n", verb, s.Name, strategyLayers(s), wavesSummary(s.Waves))
		printLayerUses(o.streams, inv, before, after, s, &s)
		for _, w := range s.Warnings(registry.Members(inv.Clusters)) {
			fmt.Fprintf(o.streams.ErrOut, "warning: %s\n", cell(w))
		}
		return nil
	})
}

// refusedStrategy is the error of a strategy file put refuses: its problems, one a line.
func refusedStrategy(file string, err error) error {
	if file == "-" {
		file = "standard input"
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) == 1 {
		return fmt.Errorf("%s: %s; nothing was stored", file, cell(lines[0]))
	}
	for i, l := range lines {
		lines[i] = "  " + cell(l)
	}
	return fmt.Errorf("%s: %d problems; nothing was stored:\n%s", file, len(lines), strings.Join(lines, "\n"))
}

// strategiesAndInventory reads the strategies and the registry (the layer heads and the
// registered clusters).
func strategiesAndInventory(ctx context.Context, st *store.Store) ([]rollout.Strategy, *registry.Inventory, error) {
	stored, err := st.Strategies(ctx)
	if err != nil {
		return nil, nil, storeError(err)
	}
	reg, err := st.RegistryState(ctx)
	if err != nil {
		return nil, nil, storeError(err)
	}
	out := make([]rollout.Strategy, len(stored))
	for i, x := range stored {
		out[i] = x.Strategy
	}
	return out, registry.InventoryOf(reg), nil
}

// newEnvironment stands for an environment not published yet in the table of which strategy
// each layer uses ("env/<new>" equals no layer pattern: those are DNS labels).
var newEnvironment = config.EnvLayer("<new>")

// printLayerUses prints, after a strategy was stored or deleted (changed), which strategy
// every published global or environment layer uses now and why, with what it used before
// when that changed; then rows for the environment layers changed lists that are not
// published yet, and for an environment published later when changed lists "env/*" or "*"
// or is the default. When put (the strategy stored; nil for a delete) takes a layer over
// from another strategy, or another strategy keeps a layer it lists, that is a warning.
func printLayerUses(streams IOStreams, inv *registry.Inventory, before, after []rollout.Strategy, changed rollout.Strategy, put *rollout.Strategy) {
	refs := []config.LayerRef{config.GlobalLayer}
	seen := map[config.LayerRef]bool{config.GlobalLayer: true}
	add := func(ref config.LayerRef) {
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	var published []config.LayerRef
	for ref := range inv.Heads {
		if ref.Scope == config.ScopeEnv {
			published = append(published, ref)
		}
	}
	slices.SortFunc(published, compareLayers)
	for _, ref := range published {
		add(ref)
	}
	wide := changed.Name == rollout.DefaultStrategy
	for _, p := range changed.Layers {
		p = strings.TrimSpace(p)
		if p == "*" || p == "env/*" {
			wide = true
		} else if ref, err := config.ParseLayerRef(p); err == nil && ref.Scope == config.ScopeEnv {
			add(ref)
		}
	}
	if wide {
		add(newEnvironment)
	}
	tw := newTable(streams.Out, "LAYER", "STRATEGY", "WHY")
	var warnings []string
	for _, ref := range refs {
		was, now := rollout.Resolve(before, ref), rollout.Resolve(after, ref)
		name, why := useOf(now, ref)
		if wasName, _ := useOf(was, ref); wasName != name {
			if was.Strategy == nil {
				wasName = "all at once"
			}
			why += " (was: " + wasName + ")"
		}
		tw.row(ref.String(), name, why)
		if put == nil {
			continue
		}
		switch {
		case now.Strategy != nil && now.Strategy.Name == put.Name && was.Strategy != nil && was.Strategy.Name != put.Name && was.Pattern != rollout.DefaultStrategy:
			how := fmt.Sprintf("%s lists %s, closer than %s", put.Name, now.Pattern, was.Pattern)
			if now.Pattern == was.Pattern {
				how = fmt.Sprintf("both list %s and %s comes first in name order", now.Pattern, put.Name)
			}
			warnings = append(warnings, fmt.Sprintf("strategy %s takes %s over from strategy %s: %s", put.Name, layerName(ref), was.Strategy.Name, how))
		case now.Strategy != nil && now.Strategy.Name != put.Name && slices.Contains(now.Tied, put.Name):
			warnings = append(warnings, fmt.Sprintf("strategy %s lists %s, but %s keeps strategy %s: both list it and %s comes first in name order",
				put.Name, now.Pattern, layerName(ref), now.Strategy.Name, now.Strategy.Name))
		}
	}
	tw.flush()
	for _, w := range warnings {
		fmt.Fprintf(streams.ErrOut, "warning: %s\n", cell(w))
	}
}

// useOf is the strategy a layer uses ("-" for none) and why, for the table of printLayerUses.
func useOf(u rollout.Use, ref config.LayerRef) (name, why string) {
	listed := ref.String()
	if ref == newEnvironment {
		listed = "env/* or *"
	}
	switch {
	case u.Strategy == nil:
		return "-", fmt.Sprintf("all at once: no strategy lists %s and there is no default", listed)
	case u.Pattern == rollout.DefaultStrategy:
		return u.Strategy.Name, fmt.Sprintf("the default: no other strategy lists %s", listed)
	}
	why = "lists " + u.Pattern
	if len(u.Tied) > 0 {
		why += fmt.Sprintf(" (before %s, first in name order)", strings.Join(u.Tied, ", "))
	}
	return u.Strategy.Name, why
}

// layerName names a layer in messages; newEnvironment is "every environment published later".
func layerName(ref config.LayerRef) string {
	if ref == newEnvironment {
		return "every environment published later"
	}
	return ref.String()
}

// checkStrategyName refuses a name no strategy can have (exit 2): strategy names are DNS
// labels.
func checkStrategyName(name string) error {
	if strings.TrimSpace(name) == "" {
		return withCode(ExitUsage, errors.New("the strategy name is empty: name one (see rollout strategy list)"))
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return withCode(ExitUsage, fmt.Errorf("%q is not a strategy name: %s", name, strings.Join(msgs, "; ")))
	}
	return nil
}

// runStrategyGet prints one strategy.
func (o *operator) runStrategyGet(ctx context.Context, f strategyGetFlags) error {
	if err := checkFormat(f.output); err != nil {
		return err
	}
	if err := checkStrategyName(f.name); err != nil {
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

// listWaves and listDescription bound the WAVES and DESCRIPTION columns of strategy list.
const (
	listWaves       = 3
	listDescription = 48
)

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
		tw := newTable(o.streams.Out, "NAME", "LAYERS", "DESCRIPTION", "WAVES", "UPDATED", "BY")
		for _, s := range stored {
			tw.row(s.Name, strategyLayers(s.Strategy), cmp.Or(truncate(s.Description, listDescription), "-"), waveNames(s.Waves, listWaves), s.At.UTC().Format(time.RFC3339), s.Actor)
		}
		return tw.flush()
	})
}

// waveNames is how many waves there are and the first n names: "5: canary, early, europe, …".
func waveNames(waves []rollout.Wave, n int) string {
	names := make([]string, 0, n+1)
	for i, w := range waves {
		if i == n {
			names = append(names, "…")
			break
		}
		names = append(names, w.Name)
	}
	return fmt.Sprintf("%d: %s", len(waves), strings.Join(names, ", "))
}

// truncate shortens s to at most n runes, ending with "…" when it cut.
func truncate(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// runStrategyDelete deletes a strategy, then says which strategy each layer uses now; exit 1
// when there is none of that name.
func (o *operator) runStrategyDelete(ctx context.Context, name string) error {
	if err := checkStrategyName(name); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		before, inv, err := strategiesAndInventory(ctx, st)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(before, func(x rollout.Strategy) bool { return x.Name == name })
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
		if i < 0 {
			return nil // stored after this command read the strategies
		}
		after := slices.Delete(slices.Clone(before), i, i+1)
		printLayerUses(o.streams, inv, before, after, before[i], nil)
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
func strategyLayers(s rollout.Strategy) string {
	layers := strings.Join(s.Layers, ", ")
	switch {
	case s.Name == rollout.DefaultStrategy && layers == "":
		return "every global and environment layer no other strategy lists"
	case s.Name == rollout.DefaultStrategy:
		return layers + " (and, as the default, every global and environment layer no other strategy lists)"
	case layers == "":
		return "no layer unless a publish names it (--strategy " + s.Name + ")"
	}
	return layers
}

// wavesSummary is one line about a strategy's waves: "2 waves: canary (namePattern dev-a,
// bake 10s), rest".
func wavesSummary(waves []rollout.Wave) string {
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
