package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// clustersStatusFlags are clusters status's flags.
type clustersStatusFlags struct {
	output string
}

func newClustersStatusCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f clustersStatusFlags
	cmd := &cobra.Command{
		Use:   "status [-o table|json]",
		Short: "Show every cluster's served and synced configVersion, health, last known good and rollout wave",
		Long: `Status lists every registered cluster with the configVersion the generator serves it (and
the layer heads' one when a rollout has not reached the cluster yet), what its Argo CD
Applications last synced as dynamo-cmp serve reported it (the configVersion, sync and health
status, how many Applications, how long ago; "not observed" until serve reports), its last
known good configVersion, and, for each live rollout of its global or environment layer, the
wave it is in and whether that wave was reached. It reads the table only (one registry query
and two batch reads); -o json prints the same as a stable document (docs/rollouts.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runClustersStatus(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "table or json")
	o.addFlags(cmd)
	return cmd
}

// clusterStatus is one cluster of `clusters status -o json`. Every field is always present
// (objects that do not exist are null, lists empty), so scripts need no existence checks.
type clusterStatus struct {
	Cluster     string `json:"cluster"`
	Environment string `json:"environment"`
	// Served is the configVersion the generator gives the cluster; Heads the one of the
	// layer heads (they differ while a rollout has not reached the cluster, or is halted).
	Served        string           `json:"served"`
	Heads         string           `json:"heads"`
	Observed      *observedStatus  `json:"observed"`
	LastKnownGood *lastKnownGood   `json:"lastKnownGood"`
	Rollouts      []clusterRollout `json:"rollouts"`
}

// observedStatus is what serve last saw of the cluster's Applications.
type observedStatus struct {
	// SyncedVersion is the configVersion all of them are Synced and Healthy on ("" when they
	// are not, or disagree).
	SyncedVersion string    `json:"syncedVersion"`
	Sync          string    `json:"sync"`
	Health        string    `json:"health"`
	Applications  int       `json:"applications"`
	At            time.Time `json:"at"`
	AgeSeconds    int64     `json:"ageSeconds"`
}

type lastKnownGood struct {
	ConfigVersion string    `json:"configVersion"`
	At            time.Time `json:"at"`
	TraceID       string    `json:"traceId"`
}

// clusterRollout is where a cluster is in a live rollout of one of its layers.
type clusterRollout struct {
	Layer    string `json:"layer"`
	Strategy string `json:"strategy"`
	State    string `json:"state"`
	// Wave is the cluster's wave (1-based) of Waves, named WaveName; CurrentWave the wave
	// the rollout is at.
	Wave        int    `json:"wave"`
	Waves       int    `json:"waves"`
	WaveName    string `json:"waveName"`
	CurrentWave int    `json:"currentWave"`
	// Reached: the cluster is served Target; else Stable.
	Reached bool `json:"reached"`
	Stable  int  `json:"stable"`
	Target  int  `json:"target"`
}

// runClustersStatus reads the registry, then the clusters' observations and last-known-good
// records, and prints them.
func (o *operator) runClustersStatus(ctx context.Context, f clustersStatusFlags) error {
	if err := checkTableOrJSON(f.output); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		inv, err := registry.ReadInventory(ctx, st)
		if err != nil {
			return storeError(err)
		}
		warnOldLayout(o.streams.ErrOut, st.Table(), inv.Legacy)
		names := make([]string, len(inv.Clusters))
		for i, c := range inv.Clusters {
			names[i] = c.Name
		}
		var obs map[string]store.Observation
		var lkg map[string]store.LastKnownGood
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { obs, err = st.Observations(gctx, names...); return err })
		g.Go(func() (err error) { lkg, err = st.LastKnownGood(gctx, names...); return err })
		if err := g.Wait(); err != nil {
			return storeError(err)
		}
		rows := clusterStatuses(inv, obs, lkg, time.Now())
		if f.output == "json" {
			enc := json.NewEncoder(o.streams.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(rows)
		}
		return printClusterStatuses(o.streams.Out, rows)
	})
}

// clusterStatuses puts together the status of every cluster of inv, in name order.
func clusterStatuses(inv *registry.Inventory, obs map[string]store.Observation, lkg map[string]store.LastKnownGood, now time.Time) []clusterStatus {
	rows := make([]clusterStatus, 0, len(inv.Clusters))
	for _, c := range inv.Clusters {
		row := clusterStatus{Cluster: c.Name, Environment: c.Record.Environment, Served: c.Served.String(), Heads: c.Version.String(), Rollouts: []clusterRollout{}}
		if ob, ok := obs[c.Name]; ok {
			row.Observed = &observedStatus{SyncedVersion: ob.SyncedVersion, Sync: ob.Sync, Health: ob.Health, Applications: ob.Applications,
				At: ob.At.UTC(), AgeSeconds: int64(max(now.Sub(ob.At), 0) / time.Second)}
		}
		if l, ok := lkg[c.Name]; ok {
			row.LastKnownGood = &lastKnownGood{ConfigVersion: l.Version.String(), At: l.At.UTC(), TraceID: l.TraceID}
		}
		for _, ref := range []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment)} {
			x, ok := inv.Live(ref)
			if !ok {
				continue
			}
			r := inv.Rollouts[ref]
			w := x.WaveOf(c.Name)
			row.Rollouts = append(row.Rollouts, clusterRollout{Layer: ref.String(), Strategy: r.Strategy, State: string(r.State),
				Wave: w + 1, Waves: len(r.Waves), WaveName: r.Waves[w].Name, CurrentWave: min(r.Wave, len(r.Waves)-1) + 1,
				Reached: x.Reached(c.Name), Stable: r.Stable, Target: r.Target})
		}
		rows = append(rows, row)
	}
	return rows
}

// printClusterStatuses prints one aligned line per cluster and, indented under it, the
// layer heads' configVersion when it is not the one served and the cluster's place in each
// live rollout, so the table stays readable at 100 columns.
func printClusterStatuses(w io.Writer, rows []clusterStatus) error {
	var buf bytes.Buffer
	tw := newTable(&buf, "CLUSTER", "ENV", "SERVED", "SYNCED", "SYNC", "HEALTH", "APPS", "OBSERVED", "LAST KNOWN GOOD")
	details := make([][]string, len(rows))
	for i, r := range rows {
		synced, sync, health, apps, seen := "not observed", "-", "-", "-", "-"
		if ob := r.Observed; ob != nil {
			synced, sync, health, apps, seen = orDash(ob.SyncedVersion), orDash(ob.Sync), orDash(ob.Health), fmt.Sprint(ob.Applications), age(ob.AgeSeconds)+" ago"
		}
		good := "-"
		if r.LastKnownGood != nil {
			good = r.LastKnownGood.ConfigVersion
		}
		tw.row(r.Cluster, r.Environment, r.Served, synced, sync, health, apps, seen, good)
		if r.Heads != r.Served {
			details[i] = append(details[i], "heads "+r.Heads)
		}
		for _, ro := range r.Rollouts {
			details[i] = append(details[i], fmt.Sprintf("rollout %s wave %d/%d %s (%s)", ro.Layer, ro.Wave, ro.Waves, ro.WaveName, rolloutPlace(ro)))
		}
	}
	if err := tw.flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	var out strings.Builder
	out.WriteString(lines[0])
	for i := range rows {
		out.WriteString(lines[i+1])
		for _, d := range details[i] {
			out.WriteString("  " + cell(d) + "\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// rolloutPlace says whether the cluster's wave was reached, and the rollout's state when it
// is not simply progressing.
func rolloutPlace(ro clusterRollout) string {
	switch rollout.State(ro.State) {
	case rollout.Halted, rollout.Aborted:
		return ro.State + ": stable version served"
	}
	place := "waiting"
	if ro.Reached {
		place = "reached"
	}
	if ro.State != string(rollout.Progressing) {
		place += ", " + ro.State
	}
	return place
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is a duration in seconds, coarsely: 42s, 3m, 5h, 2d.
func age(seconds int64) string {
	switch {
	case seconds < 60:
		return fmt.Sprintf("%ds", seconds)
	case seconds < 3600:
		return fmt.Sprintf("%dm", seconds/60)
	case seconds < 48*3600:
		return fmt.Sprintf("%dh", seconds/3600)
	}
	return fmt.Sprintf("%dd", seconds/86400)
}
