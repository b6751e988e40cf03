package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// publishFlags are config publish's flags.
type publishFlags struct {
	changeFlags
	rollout rolloutChoice
	files   []string
}

// rolloutChoice is how a publish reaches the clusters: --strategy NAME, --all-at-once, or the
// layer's own strategy (neither given).
type rolloutChoice struct {
	strategy  string
	allAtOnce bool
	flags     *pflag.FlagSet // to tell an empty --strategy from none
}

func (c *rolloutChoice) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.strategy, "strategy", "", "roll the new version out in waves with this strategy instead of the layer's own (see rollout strategy list)")
	cmd.Flags().BoolVar(&c.allAtOnce, "all-at-once", false, "serve the new version to every affected cluster at once, whatever the layer's strategy")
	c.flags = cmd.Flags()
}

func (c rolloutChoice) check() error {
	if c.flags != nil && c.flags.Changed("strategy") && strings.TrimSpace(c.strategy) == "" {
		return withCode(ExitUsage, fmt.Errorf("--strategy is empty: name a strategy (see rollout strategy list), or leave the flag out to use the layer's own"))
	}
	if c.strategy != "" && c.allAtOnce {
		return withCode(ExitUsage, fmt.Errorf("--strategy %s and --all-at-once exclude each other: give one", c.strategy))
	}
	return nil
}

func newPublishCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish -f PATH --layer LAYER [--base-version N] [--allow-empty] [--strategy NAME | --all-at-once] [-m MESSAGE] [--dry-run]",
		Short: "Publish layer files as the next version of a layer",
		Long: `Publish reads the layer's files (documents without a "layer" field belong to --layer), shows
the diff against the current version entry by entry, validates every cluster the layer affects
with the change in place, and then moves the layer's head to the new version. A change that
would break any cluster is refused (exit 1) and nothing is written.

A file printed by "config get" or "config export" starts with a version header
("# dynamo-cmp: layer=env/dev version=7"): publishing it changes the layer only if its head is
still at that version, so an edit of a stale copy cannot overwrite someone else's publish.
--base-version N says the same explicitly and overrides the header. If the head has moved,
the publish is refused with a conflict (exit 3) and nothing is written: re-read the layer,
redo the change and publish again. Without a header or --base-version (files kept in Git,
CI), the publish goes over whatever version is the head when it runs.

Files that hold no entries for the layer (an empty file, a bare "---") would remove every
entry: that is refused (exit 1) unless --allow-empty is given.

A new version of the global layer or an environment layer is rolled out in waves when a
rollout strategy applies to the layer (see "dynamo-cmp rollout strategy list"): the publish
prints the waves it starts (a dry run the waves it would start) and "dynamo-cmp rollout
status" follows them. --strategy NAME uses another strategy; --all-at-once serves the new
version to every affected cluster at once. An unknown strategy is a usage error (exit 2) and
nothing is published. See docs/rollouts.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runPublish(cmd.Context(), f)
		},
	}
	cmd.Flags().StringArrayVarP(&f.files, "file", "f", nil, "layer file or directory (repeatable)")
	cmd.Flags().BoolVar(&f.allowEmpty, "allow-empty", false, "publish even if the files hold no entries (removes every entry of the layer)")
	f.add(cmd)
	f.rollout.add(cmd)
	o.addFlags(cmd)
	return cmd
}

// runPublish publishes layer files as the layer's next version.
func (o *operator) runPublish(ctx context.Context, f publishFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	if err := f.rollout.check(); err != nil {
		return err
	}
	if len(f.files) == 0 {
		return withCode(ExitUsage, fmt.Errorf("-f is required: the layer's file or directory"))
	}
	files, err := layerfile.ReadFiles(f.files)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	layer, err := layerfile.LayerOf(files, ref)
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	c := f.changeFlags
	if c.expected, err = c.base.get(); err != nil {
		return err
	}
	c.expectedFrom = baseFlagSource
	if c.expected == nil {
		if c.expected, err = baseFromFiles(files, ref); err != nil {
			return err
		}
		c.expectedFrom = baseHeaderSource
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		return o.publish(ctx, st, ref, layer.Entries, c, f.rollout, nil)
	})
}

// publish runs the publish workflow; after a successful publish, done (if set) runs.
func (o *operator) publish(ctx context.Context, st *store.Store, ref config.LayerRef, entries []config.Entry, c changeFlags, rc rolloutChoice, done func() error) error {
	trace := traceid.New()
	res, err := ops.Publish(ctx, st, ops.PublishRequest{
		Ref: ref, Entries: entries, Message: c.message, Actor: o.actor(ctx, st, c.actor),
		TraceID: trace, Base: c.expected, AllowEmpty: c.allowEmpty, DryRun: c.dryRun, Progress: o.progress(),
		Strategy: rc.strategy, AllAtOnce: rc.allAtOnce,
	})
	if res != nil && err == nil {
		why := whyEmptyWaves(ctx, st, res)
		reportChange(o.streams, "publish", res, c.dryRun, trace, func() { reportRollout(o.streams, res, rc, c.dryRun, why) })
		warnNoProjects(o.streams.ErrOut, ref, entries)
	}
	var empty *ops.EmptyLayerError
	var strategy *ops.StrategyError
	switch {
	case errors.As(err, &empty):
		return withCode(ExitInvalid, err)
	case errors.As(err, &strategy):
		return withCode(ExitUsage, fmt.Errorf("%w; nothing was published", err))
	}
	if f := deadlineFailure("publish", ref, o.so.timeout, trace, err); f != nil {
		return f
	}
	if err != nil {
		return storeError(unknownBase(ctx, st, err, c.expectedFrom))
	}
	if done != nil && !c.dryRun {
		return done()
	}
	return nil
}

// warnNoProjects warns when a cluster layer's record lists no Argo CD projects: generate then
// refuses every Application, so the cluster renders nowhere until a project is listed.
func warnNoProjects(w io.Writer, ref config.LayerRef, entries []config.Entry) {
	if ref.Scope != config.ScopeCluster {
		return
	}
	if rec := config.RecordOf(entries); rec != nil && len(rec.Projects) == 0 {
		fmt.Fprintf(w, "warning: the cluster record of %s lists no projects, so no Argo CD Application may render it: list the projects allowed to (cluster: {projects: [platform]}) and publish again\n", ref)
	}
}

// reportRollout prints how a publish of a global or environment layer reaches its clusters:
// the waves of the rollout it starts (or would start), or all at once. A wave that takes no
// cluster is skipped at once; why (if set) says why it took none, as a warning.
func reportRollout(streams IOStreams, res *ops.PublishResult, rc rolloutChoice, dryRun bool, why func(wave int) string) {
	if res.Ref.Scope == config.ScopeCluster {
		return // one cluster: nothing to roll out
	}
	w := streams.Out
	label := "rollout"
	if dryRun {
		label = "rollout (dry run)"
	}
	r := res.Rollout
	if r == nil {
		reason := ""
		if rc.allAtOnce {
			reason = ", --all-at-once"
		}
		fmt.Fprintf(w, "%s: all at once (%d %s%s)\n", label, len(res.Clusters), plural(len(res.Clusters), "cluster", "clusters"), reason)
		return
	}
	fmt.Fprintf(w, "%s: strategy %q, %s\n", label, r.Strategy, planSummary(r.Waves))
	if r.Stable != res.Base {
		fmt.Fprintf(w, "  the clusters no wave has reached yet stay on version %d, as in the rollout this publish replaces\n", r.Stable)
	}
	if !dryRun {
		fmt.Fprintf(w, "  follow it: dynamo-cmp rollout status --layer %s\n", res.Ref)
	}
	if why == nil {
		return
	}
	for i, pw := range r.Waves {
		if len(pw.Clusters) == 0 {
			if reason := why(i); reason != "" {
				fmt.Fprintf(streams.ErrOut, "warning: wave %d (%s) takes no cluster: %s\n", i+1, cell(pw.Name), cell(reason))
			}
		}
	}
}

// whyEmptyWaves explains the waves of a publish's rollout that take no cluster (nil when it
// has none, or the layer affects no cluster: then every wave is empty and nothing needs
// explaining). It reads the strategy and the registry again; if that fails, the plan is
// printed without the reasons.
func whyEmptyWaves(ctx context.Context, st *store.Store, res *ops.PublishResult) func(int) string {
	r := res.Rollout
	if r == nil || len(res.Clusters) == 0 || !slices.ContainsFunc(r.Waves, func(w rollout.PlannedWave) bool { return len(w.Clusters) == 0 }) {
		return nil
	}
	stored, err := st.Strategies(ctx)
	if err != nil {
		return nil
	}
	i := slices.IndexFunc(stored, func(s store.StoredStrategy) bool { return s.Name == r.Strategy })
	if i < 0 || len(stored[i].Waves) != len(r.Waves) {
		return nil // replaced meanwhile
	}
	reg, err := st.RegistryState(ctx)
	if err != nil {
		return nil
	}
	s := stored[i].Strategy
	members := registry.Members(registry.InventoryOf(reg).Affected(res.Ref, nil))
	return func(wave int) string { return s.WhyEmpty(res.Ref, wave, members) }
}

// planSummary is one line about planned waves: "2 waves: 1 canary (bake 10s, maxFailures 0):
// dev-a; 2 rest (bake 0s, maxFailures 0): dev-b, dev-c". A wave without clusters is skipped
// at once.
func planSummary(waves []rollout.PlannedWave) string {
	parts := make([]string, len(waves))
	for i, pw := range waves {
		clusters := clusterList(pw.Clusters, 5)
		if len(pw.Clusters) == 0 {
			clusters = "no clusters, skipped at once"
		}
		parts[i] = fmt.Sprintf("%d %s (bake %s, maxFailures %d): %s", i+1, cell(pw.Name), pw.Bake, pw.MaxFailures, clusters)
	}
	return fmt.Sprintf("%d %s: %s", len(waves), plural(len(waves), "wave", "waves"), strings.Join(parts, "; "))
}

// clusterList names at most n clusters, then how many more.
func clusterList(clusters []string, n int) string {
	if len(clusters) == 0 {
		return "no clusters"
	}
	if len(clusters) <= n {
		return strings.Join(clusters, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(clusters[:n], ", "), len(clusters)-n)
}
