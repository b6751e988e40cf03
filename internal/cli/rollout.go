package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func newRolloutCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Follow and steer the rollouts in waves of global and environment layers",
		Long: `A publish of the global layer or an environment layer that a rollout strategy applies to
reaches its clusters in waves: the generator of "dynamo-cmp serve" serves each cluster the
version of the wave it is in, and serve starts the next wave once the current one has been
Synced and Healthy for its bake time. These commands show where the rollouts are, steer them
(pause, resume, promote, abort, all audited in "config history"), and manage the strategies.
See docs/rollouts.md.`,
	}
	cmd.AddCommand(
		newRolloutStatusCommand(streams, env),
		newRolloutActionCommand(streams, env, actionPause),
		newRolloutActionCommand(streams, env, actionResume),
		newRolloutActionCommand(streams, env, actionPromote),
		newRolloutActionCommand(streams, env, actionAbort),
		newStrategyCommand(streams, env),
	)
	return cmd
}

// rolloutStatusFlags are rollout status's flags.
type rolloutStatusFlags struct {
	layer  string
	output string
}

// statusLogSteps is how many of a rollout's latest steps rollout status prints.
const statusLogSteps = 5

func newRolloutStatusCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f rolloutStatusFlags
	cmd := &cobra.Command{
		Use:   "status [--layer LAYER] [-o table|json]",
		Short: "Show every layer's latest rollout: its waves, and per cluster what is served and what Argo CD synced",
		Long: `Status shows the latest rollout of every layer (or of --layer): its strategy, its state, the
version it rolls out over the stable one and its current wave; then each wave with its bake
time, its failure threshold and its clusters, each with the configVersion the generator
serves it now and what serve last saw of its Applications (the configVersion they are Synced
and Healthy on, their sync and health status, and how long ago); then the rollout's latest
steps. A rollout whose layer's head has moved since (a later publish or rollback) is shown
as superseded: it no longer decides what any cluster is served.

-o json prints {"rollouts": [...]}, one object per rollout as described in docs/operations.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runRolloutStatus(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.layer, "layer", "", "show only this layer's rollout (global or env/<environment>)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "table or json")
	o.addFlags(cmd)
	return cmd
}

// The JSON shape of rollout status (documented in docs/operations.md; add fields, never
// rename or remove them).
type (
	rolloutStatusJSON struct {
		Rollouts []rolloutJSON `json:"rollouts"`
	}
	rolloutJSON struct {
		Layer    string `json:"layer"`
		ID       string `json:"id"`
		Strategy string `json:"strategy"`
		// State is the stored state; Status is State, or "superseded" when the head moved
		// on before the rollout ended.
		State  string `json:"state"`
		Status string `json:"status"`
		// Live: the rollout decides what the layer's clusters are served.
		Live   bool `json:"live"`
		Stable int  `json:"stable"`
		Target int  `json:"target"`
		// Head is the layer's head version now.
		Head int `json:"head"`
		// CurrentWave counts from 1.
		CurrentWave   int        `json:"currentWave"`
		Promoted      bool       `json:"promoted"`
		Reason        string     `json:"reason,omitempty"`
		StartedAt     time.Time  `json:"startedAt"`
		StartedBy     string     `json:"startedBy"`
		UpdatedAt     time.Time  `json:"updatedAt"`
		UpdatedBy     string     `json:"updatedBy"`
		UpdatedByArn  string     `json:"updatedByArn,omitempty"` // the AWS principal that wrote the current revision
		WaveStartedAt time.Time  `json:"waveStartedAt"`
		BakeStartedAt *time.Time `json:"bakeStartedAt,omitempty"`
		Waves         []waveJSON `json:"waves"`
		Log           []stepJSON `json:"log"`
		// Clusters counts the clusters of every wave.
		Clusters int `json:"clusters"`
	}
	waveJSON struct {
		Number      int           `json:"number"`
		Name        string        `json:"name"`
		Bake        string        `json:"bake"`
		MaxFailures int           `json:"maxFailures"`
		Current     bool          `json:"current"`
		Clusters    []clusterJSON `json:"clusters"`
	}
	clusterJSON struct {
		Name string `json:"name"`
		// Registered is false for a cluster planned in the wave and deregistered since.
		Registered bool `json:"registered"`
		// Joined: registered after the publish, so in the last wave.
		Joined bool `json:"joined,omitempty"`
		// Reached: the rollout's wave reached the cluster with its target (false once the
		// rollout halted, was aborted or rolled back).
		Reached bool `json:"reached"`
		// Served is the configVersion the generator serves the cluster now.
		Served   string           `json:"served,omitempty"`
		Observed *observationJSON `json:"observed,omitempty"`
	}
	observationJSON struct {
		SyncedVersion string    `json:"syncedVersion"`
		Sync          string    `json:"sync"`
		Health        string    `json:"health"`
		Applications  int       `json:"applications"`
		At            time.Time `json:"at"`
	}
	stepJSON struct {
		At     time.Time `json:"at"`
		Event  string    `json:"event"`
		Wave   int       `json:"wave"`
		Actor  string    `json:"actor,omitempty"`
		Reason string    `json:"reason,omitempty"`
	}
)

// runRolloutStatus prints the layers' latest rollouts.
func (o *operator) runRolloutStatus(ctx context.Context, f rolloutStatusFlags) error {
	if err := checkTableOrJSON(f.output); err != nil {
		return err
	}
	var only *config.LayerRef
	if f.layer != "" {
		ref, err := parseRolloutLayer(f.layer)
		if err != nil {
			return err
		}
		only = &ref
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		reg, err := st.RegistryState(ctx)
		if err != nil {
			return storeError(err)
		}
		warnOldLayout(o.streams.ErrOut, st.Table(), reg.Legacy)
		inv := registry.InventoryOf(reg)
		var rollouts []rollout.Rollout
		for ref, r := range inv.Rollouts {
			if only == nil || *only == ref {
				rollouts = append(rollouts, r)
			}
		}
		slices.SortFunc(rollouts, func(a, b rollout.Rollout) int { return compareLayers(a.Layer, b.Layer) })
		obs := map[string]store.Observation{}
		if len(rollouts) > 0 {
			if obs, err = st.Observations(ctx, clusterNames(inv, rollouts)...); err != nil {
				return storeError(err)
			}
		}
		out := rolloutStatusJSON{Rollouts: []rolloutJSON{}}
		for _, r := range rollouts {
			ro := rolloutStatusOf(inv, r, obs)
			ro.UpdatedByArn = reg.RolloutCallers[r.Layer]
			out.Rollouts = append(out.Rollouts, ro)
		}
		if f.output == "json" {
			enc := json.NewEncoder(o.streams.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		if len(out.Rollouts) == 0 {
			published := false
			if only != nil {
				_, published = inv.Heads[*only]
			}
			switch {
			case only != nil && !published:
				fmt.Fprintf(o.streams.Out, "no rollouts of %s: it has never been published\n", *only)
			case only != nil:
				fmt.Fprintf(o.streams.Out, "no rollouts of %s: its publishes reached every cluster at once\n", *only)
			case len(inv.Heads) == 0:
				fmt.Fprintln(o.streams.Out, "no rollouts: nothing has been published yet")
			default:
				fmt.Fprintln(o.streams.Out, "no rollouts: every publish so far reached its clusters at once")
			}
			return nil
		}
		for i, r := range out.Rollouts {
			if i > 0 {
				fmt.Fprintln(o.streams.Out)
			}
			printRolloutStatus(o.streams.Out, r, time.Now())
		}
		return nil
	})
}

// parseRolloutLayer checks a --layer of a rollout command: a global or environment layer.
func parseRolloutLayer(s string) (config.LayerRef, error) {
	ref, err := parseLayerFlag(s)
	if err != nil {
		return ref, err
	}
	if ref.Scope == config.ScopeCluster {
		return ref, withCode(ExitUsage, fmt.Errorf("--layer %s: a cluster layer reaches one cluster and is never rolled out in waves; use global or env/<environment>", ref))
	}
	return ref, nil
}

// compareLayers orders global first, then environments by name.
func compareLayers(a, b config.LayerRef) int {
	rank := func(r config.LayerRef) int {
		switch r.Scope {
		case config.ScopeGlobal:
			return 0
		case config.ScopeEnv:
			return 1
		}
		return 2
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Name, b.Name))
}

// clusterNames are the clusters rollout status shows: the planned ones and those that joined.
func clusterNames(inv *registry.Inventory, rollouts []rollout.Rollout) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, r := range rollouts {
		for _, w := range r.Waves {
			for _, c := range w.Clusters {
				add(c)
			}
		}
		for _, c := range inv.Affected(r.Layer, nil) {
			add(c.Name)
		}
	}
	return out
}

// rolloutStatusOf is the status of one rollout.
func rolloutStatusOf(inv *registry.Inventory, r rollout.Rollout, obs map[string]store.Observation) rolloutJSON {
	head := inv.Heads[r.Layer]
	_, live := inv.LiveRollout(r.Layer)
	status := string(r.State)
	if !live && !r.State.Terminal() {
		status = "superseded"
	}
	out := rolloutJSON{
		Layer: r.Layer.String(), ID: r.ID, Strategy: r.Strategy, State: string(r.State), Status: status, Live: live,
		Stable: r.Stable, Target: r.Target, Head: head.Version, CurrentWave: min(r.Wave, len(r.Waves)-1) + 1,
		Promoted: r.Promoted, Reason: r.Reason, StartedAt: r.StartedAt, StartedBy: r.Actor, UpdatedAt: r.UpdatedAt,
		WaveStartedAt: r.WaveStartedAt, Waves: []waveJSON{}, Log: []stepJSON{},
	}
	if n := len(r.Log); n > 0 {
		out.UpdatedBy = r.Log[n-1].Actor
	}
	if !r.BakeStartedAt.IsZero() {
		t := r.BakeStartedAt
		out.BakeStartedAt = &t
	}
	registered := map[string]registry.ClusterInfo{}
	for _, c := range inv.Clusters {
		registered[c.Name] = c
	}
	x := r.Index()
	var joined []string
	for _, c := range inv.Affected(r.Layer, nil) {
		if !x.Listed(c.Name) {
			joined = append(joined, c.Name)
		}
	}
	for i, w := range r.Waves {
		wj := waveJSON{Number: i + 1, Name: w.Name, Bake: w.Bake.String(), MaxFailures: w.MaxFailures,
			Current: i == min(r.Wave, len(r.Waves)-1) && r.State != rollout.Completed, Clusters: []clusterJSON{}}
		names := slices.Clone(w.Clusters)
		if i == len(r.Waves)-1 {
			names = append(names, joined...)
		}
		for _, name := range names {
			cj := clusterJSON{Name: name, Joined: !x.Listed(name), Reached: x.Reached(name)}
			if c, ok := registered[name]; ok {
				cj.Registered, cj.Served = true, c.Served.String()
			}
			if ob, ok := obs[name]; ok {
				cj.Observed = &observationJSON{SyncedVersion: ob.SyncedVersion, Sync: ob.Sync, Health: ob.Health, Applications: ob.Applications, At: ob.At}
			}
			wj.Clusters = append(wj.Clusters, cj)
			out.Clusters++
		}
		out.Waves = append(out.Waves, wj)
	}
	for _, s := range r.Log {
		out.Log = append(out.Log, stepJSON{At: s.At, Event: s.Event, Wave: s.Wave + 1, Actor: s.Actor, Reason: s.Reason})
	}
	return out
}

// printRolloutStatus prints one rollout as text.
func printRolloutStatus(w io.Writer, r rolloutJSON, now time.Time) {
	status := r.Status
	if status == "superseded" {
		status = fmt.Sprintf("superseded (was %s; the head is at version %d now)", r.State, r.Head)
	}
	cur := r.Waves[r.CurrentWave-1]
	fmt.Fprintf(w, "%s: strategy %s, %s, version %d → %d, wave %d/%d (%s)\n",
		r.Layer, cell(r.Strategy), status, r.Stable, r.Target, r.CurrentWave, len(r.Waves), cell(cur.Name))
	updated := stamp(r.UpdatedAt)
	if r.UpdatedBy != "" {
		updated += " by " + cell(r.UpdatedBy)
	}
	if r.UpdatedByArn != "" {
		updated += " (" + cell(r.UpdatedByArn) + ")"
	}
	fmt.Fprintf(w, "  started %s by %s; updated %s\n", stamp(r.StartedAt), cell(r.StartedBy), updated)
	if r.Promoted {
		fmt.Fprintf(w, "  promoted: wave %d skips its bake\n", r.CurrentWave)
	}
	if r.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", cell(r.Reason))
	}
	tw := newTable(w, "  ", "WAVE", "BAKE", "MAX FAILURES", "CLUSTER", "SERVED", "SYNCED", "SYNC", "HEALTH", "SEEN")
	for _, wv := range r.Waves {
		mark := ""
		if wv.Current {
			mark = "  *"
		}
		first := []any{mark, fmt.Sprintf("%d %s", wv.Number, wv.Name), wv.Bake, wv.MaxFailures}
		if len(wv.Clusters) == 0 {
			tw.row(append(first, "(no clusters)", "", "", "", "", "")...)
		}
		for i, c := range wv.Clusters {
			cells := first
			if i > 0 {
				cells = []any{"", "", "", ""}
			}
			name, served := c.Name, c.Served
			if c.Joined {
				name += " (joined)"
			}
			if !c.Registered {
				served = "(deregistered)"
			}
			synced, sync, health, seen := "-", "-", "-", "never"
			if ob := c.Observed; ob != nil {
				synced, sync, health, seen = cmp.Or(ob.SyncedVersion, "-"), cmp.Or(ob.Sync, "-"), cmp.Or(ob.Health, "-"), ago(now, ob.At)
			}
			tw.row(append(cells, name, served, synced, sync, health, seen)...)
		}
	}
	tw.flush()
	steps := r.Log
	if len(steps) > statusLogSteps {
		steps = steps[len(steps)-statusLogSteps:]
	}
	fmt.Fprintln(w, "  latest steps:")
	for _, s := range steps {
		line := fmt.Sprintf("    %s  %s  wave %d", stamp(s.At), s.Event, s.Wave)
		if s.Actor != "" {
			line += "  by " + cell(s.Actor)
		}
		if s.Reason != "" {
			line += ": " + cell(s.Reason)
		}
		fmt.Fprintln(w, line)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// ago is how long ago t was, coarsely ("12s ago", "3m ago").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return age(max(int64(now.Sub(t)/time.Second), 0)) + " ago"
}
