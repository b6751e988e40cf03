package progress_test

import (
	"flag"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// The invariants, checked after every step of a sequence (each failure names its number):
//
//  1. every configVersion the plugin generator serves is the registry's (registry.InventoryOf),
//     and renders through generate's own code path (exit 0, a non-empty stream);
//  2. every configVersion the generator may serve after a successful publish or rollback
//     (each mix of stable and target versions of the live rollouts, for every cluster the
//     layer affects) renders — the publish validated it — and every configVersion served
//     was validated that way;
//  3. no cluster of a later wave is served a rollout's target before every earlier wave
//     completed (the rollout's log), and a wave completes only when none of its clusters is
//     still on its way and, unless promoted, they were all there for its bake time;
//  4. a halted or aborted rollout serves only the stable version, and once a driver ticked
//     it is over with the head back at the stable version (version 0 too, for a layer's
//     first version); a head move the model did not make is such a rollback;
//  5. a cluster that had been Synced and Healthy on what it is served and drifts never
//     counts as failed; a failed sync attempt of what it is served (retrying or not) or
//     Degraded always does, at the next tick: the tick halts the rollout exactly when more
//     than the wave's maxFailures clusters failed (timeouts: clusters that never got there);
//  6. every step a driver takes is emitted as an event exactly once across both replicas, in
//     the order of the rollout's log (started, wave-started, wave-completed … completed |
//     halted, rolled-back).

// modelSkip lists invariants whose violations are only logged: a development aid while the
// fix of another one is in progress (go test -run TestModel ./internal/progress -model.skip=1,4).
var modelSkip = flag.String("model.skip", "", "comma-separated invariants (1-6) of TestModel whose violations are logged, not failed")

// violated fails the sequence: invariant n does not hold (unless -model.skip lists it).
func (m *model) violated(t *rapid.T, n int, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf("invariant %d: ", n) + fmt.Sprintf(format, args...)
	if slices.Contains(strings.Split(*modelSkip, ","), strconv.Itoa(n)) {
		t.Logf("(skipped) %s", msg)
		return
	}
	t.Fatal(msg)
}

// rolloutLogCap is how many steps a rollout keeps (wave.maxLog); a longer log lost steps,
// and the checks that read the log skip it.
const rolloutLogCap = 64

// check holds the invariants after every action.
func (m *model) check(t *rapid.T) {
	inv := m.read(t)
	m.checkHeadMoves(t, inv)
	answer := m.generatorAnswer(t)
	m.checkServed(t, inv, answer)
	m.checkWaves(t, inv)
	m.checkEvents(t, inv)
	m.heads = maps.Clone(inv.Heads)
	var changed []string
	for _, c := range inv.Clusters {
		if old, ok := m.served[c.Name]; !ok || old != c.Served {
			if ok {
				m.previous[c.Name] = old
			}
			m.served[c.Name] = c.Served
			changed = append(changed, c.Name+" "+c.Served.String())
		}
	}
	if len(changed) > 0 {
		t.Logf("  served now: %s", strings.Join(changed, ", "))
	}
}

// layerVersion is ref's version in cv.
func layerVersion(cv config.ConfigVersion, ref config.LayerRef) int {
	if ref.Scope == config.ScopeGlobal {
		return cv.Global
	}
	return cv.Env
}

// waveOf is the wave of r that reaches cluster: the one its plan lists it in, else the last.
func waveOf(r rollout.Rollout, cluster string) int {
	for i, w := range r.Waves {
		if slices.Contains(w.Clusters, cluster) {
			return i
		}
	}
	return len(r.Waves) - 1
}

// options are the versions of ref the generator may serve while things stand as in inv:
// the stable and the target version of its live rollout, else its head.
func options(inv *registry.Inventory, ref config.LayerRef) []int {
	if r, ok := inv.LiveRollout(ref); ok {
		if r.Stable == r.Target {
			return []int{r.Target}
		}
		return []int{r.Stable, r.Target}
	}
	return []int{inv.Heads[ref].Version}
}

// mixes are the configVersions the generator may serve c while things stand as in inv.
func mixes(inv *registry.Inventory, c registry.ClusterInfo) []config.ConfigVersion {
	var out []config.ConfigVersion
	for _, g := range options(inv, config.GlobalLayer) {
		for _, e := range options(inv, config.EnvLayer(c.Record.Environment)) {
			out = append(out, config.ConfigVersion{Global: g, Env: e, Cluster: c.Version.Cluster})
		}
	}
	return out
}

// servable says why the generator may serve c at cv: which version of each staged layer.
func servable(inv *registry.Inventory, c registry.ClusterInfo, cv config.ConfigVersion) string {
	var parts []string
	for _, ref := range []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment)} {
		r, ok := inv.LiveRollout(ref)
		if !ok {
			continue
		}
		v := layerVersion(cv, ref)
		which := "target"
		if v == r.Stable {
			which = "stable version"
		}
		parts = append(parts, fmt.Sprintf("%s at the %s %d of its %s rollout %d→%d", ref, which, v, r.State, r.Stable, r.Target))
	}
	if len(parts) == 0 {
		return "the layer heads"
	}
	return strings.Join(parts, ", ")
}

// validatedBy records what a successful publish or rollback of ref validated: every
// configVersion the generator may serve a cluster ref affects, now that it moved — and
// checks that each renders (invariant 2).
func (m *model) validatedBy(t *rapid.T, ref config.LayerRef, what string) {
	inv := m.read(t)
	for _, c := range inv.Affected(ref, nil) {
		for _, cv := range mixes(inv, c) {
			k := combo{c.Name, cv}
			if err := m.renderCombo(t, k); err != nil {
				m.violated(t, 2, "%s succeeded, so it validated %s, which the generator may serve now (%s); it does not render: %s",
					what, k, servable(inv, c, cv), oneLine(err))
			}
			if _, ok := m.validated[k]; !ok {
				m.validated[k] = what
			}
		}
	}
}

// checkHeadMoves finds the head moves the model did not make: the rollbacks of halted or
// aborted rollouts (by a driver, or by rollout abort). Each must move the head from the
// rollout's target to its stable version (invariant 4), and validates like any rollback.
func (m *model) checkHeadMoves(t *rapid.T, inv *registry.Inventory) {
	refs := slices.Collect(maps.Keys(inv.Heads))
	for ref := range m.heads {
		if _, ok := inv.Heads[ref]; !ok {
			refs = append(refs, ref)
		}
	}
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		before, after := m.heads[ref], inv.Heads[ref]
		if before.Version == after.Version && before.TraceID == after.TraceID || m.ours[after.TraceID] {
			continue
		}
		r, ok := inv.Rollouts[ref]
		if !ok || r.Target != before.Version || after.Version != r.Stable {
			m.violated(t, 4, "the head of %s moved from version %d to %d (%s by %q), which is not the rollback of a rollout from its target to its stable version (latest rollout: %s)",
				ref, before.Version, after.Version, after.Action, after.Actor, describeRollout(&r))
		}
		t.Logf("  %s by %q: the head of %s moved back from %d to the stable version %d", after.Action, after.Actor, ref, before.Version, after.Version)
		m.validatedBy(t, ref, fmt.Sprintf("the rollback of %s from %d to %d by %q", ref, before.Version, after.Version, after.Actor))
	}
}

// checkServed holds invariants 1 and 2 for what the generator serves.
func (m *model) checkServed(t *rapid.T, inv *registry.Inventory, answer []generator.ParamSet) {
	if len(answer) != len(inv.Clusters) {
		m.violated(t, 1, "the plugin generator answers %d clusters, the registry has %d", len(answer), len(inv.Clusters))
		return
	}
	for i, c := range inv.Clusters {
		p := answer[i]
		if p.Cluster != c.Name || p.ConfigVersion != c.Served.String() {
			m.violated(t, 1, "the plugin generator serves %s %s, the registry says %s %s", p.Cluster, p.ConfigVersion, c.Name, c.Served)
		}
		k := combo{c.Name, c.Served}
		// A pin of a layer to version 0 depends on more than the pinned versions (the heads,
		// the rollouts): generate it again whenever they may have changed.
		key := k.String()
		if c.Served.Global == 0 || c.Served.Env == 0 {
			for _, ref := range []config.LayerRef{config.GlobalLayer, config.EnvLayer(c.Record.Environment)} {
				key += fmt.Sprintf(" %s@%d", ref, inv.Heads[ref].Version)
				if r, ok := inv.LiveRollout(ref); ok {
					key += fmt.Sprintf(" %d→%d %s", r.Stable, r.Target, r.State)
				}
			}
		}
		if !m.generated[key] {
			m.stats.generates++
			code, stdout, stderr := m.generate(p)
			if code != 0 || strings.TrimSpace(stdout) == "" {
				m.violated(t, 1, "the generator serves %s (%s), and generate for it exits %d with %d bytes on stdout: %s",
					k, servable(inv, c, c.Served), code, len(stdout), withoutTrace(stderr))
			}
			m.generated[key] = true
		}
		if _, ok := m.validated[k]; !ok {
			m.violated(t, 2, "the generator serves %s (%s), which no publish or rollback validated", k, servable(inv, c, c.Served))
		}
	}
}

// checkWaves holds invariants 3 (no wave early) and 4 (halted and aborted serve stable).
func (m *model) checkWaves(t *rapid.T, inv *registry.Inventory) {
	refs := slices.Collect(maps.Keys(inv.Rollouts))
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		r, live := inv.LiveRollout(ref)
		if !live {
			continue
		}
		completed := map[int]bool{}
		for _, s := range r.Log {
			if s.Event == rollout.EventWaveCompleted {
				completed[s.Wave] = true
			}
		}
		for _, c := range inv.Affected(ref, nil) {
			v := layerVersion(c.Served, ref)
			switch r.State {
			case rollout.Halted, rollout.Aborted:
				if v != r.Stable {
					m.violated(t, 4, "the rollout of %s %d→%d is %s, yet the generator serves %s %s (%s version %d, not the stable %d)",
						ref, r.Stable, r.Target, r.State, c.Name, c.Served, ref, v, r.Stable)
				}
			case rollout.Progressing, rollout.Paused:
				if v != r.Target || r.Target == r.Stable || len(r.Log) >= rolloutLogCap {
					continue
				}
				w := waveOf(r, c.Name)
				for i := range w {
					if !completed[i] {
						m.violated(t, 3, "%s (wave %d, %s) is served %s of the rollout %d→%d, but wave %d (%s) has not completed (log: %s)",
							c.Name, w+1, r.Waves[w].Name, ref, r.Stable, r.Target, i+1, r.Waves[i].Name, describeLog(r))
					}
				}
			}
		}
	}
}

func describeLog(r rollout.Rollout) string {
	var parts []string
	for _, s := range r.Log {
		parts = append(parts, fmt.Sprintf("%s:%d", s.Event, s.Wave+1))
	}
	return strings.Join(parts, " ")
}

// expectedEvents are the events the drivers owe for r's log: rollout-started and the first
// rollout-wave-started once they announced it, then one per step a driver took (a rollout
// paused or aborted before any driver saw it may be rolled back without being announced).
func expectedEvents(r rollout.Rollout) []string {
	var out []string
	if r.Announced {
		out = append(out, "rollout-started:1", "rollout-wave-started:1")
	}
	for _, s := range r.Log[1:] {
		if s.Actor == progress.DriverActor {
			out = append(out, fmt.Sprintf("rollout-%s:%d", s.Event, min(s.Wave, len(r.Waves)-1)+1))
		}
	}
	return out
}

// checkEvents holds invariant 6.
func (m *model) checkEvents(t *rapid.T, inv *registry.Inventory) {
	for _, r := range inv.Rollouts {
		m.rollouts[r.ID] = r.Clone()
	}
	got := map[string][]string{}
	ids, halted := map[string]bool{}, map[string]bool{}
	for _, ev := range m.events.all() {
		if ids[ev.ID] {
			m.violated(t, 6, "the event %s of %s version %d, wave %d, was emitted twice", ev.Type, ev.Layer, ev.Version, ev.Rollout.Wave)
		}
		ids[ev.ID] = true
		r, ok := m.rollouts[ev.TraceID]
		if !ok {
			m.violated(t, 6, "the event %s of %s version %d names a rollout that never existed", ev.Type, ev.Layer, ev.Version)
			continue
		}
		if ev.Version != r.Target || ev.PreviousVersion != r.Stable {
			m.violated(t, 6, "event %s of the rollout of %s %d→%d says version %d, previous %d", ev.Type, r.Layer, r.Stable, r.Target, ev.Version, ev.PreviousVersion)
		}
		if clusterFailureEvents[ev.Type] {
			// A cluster of the wave failed: reported once per cluster and wave (the id
			// check above), always before the halt it may cause.
			if halted[ev.TraceID] {
				m.violated(t, 6, "the event %s of cluster %s came after the rollout of %s %d→%d halted", ev.Type, ev.Cluster, r.Layer, r.Stable, r.Target)
			}
			continue
		}
		if ev.Type == event.RolloutHalted {
			halted[ev.TraceID] = true
		}
		got[ev.TraceID] = append(got[ev.TraceID], fmt.Sprintf("%s:%d", ev.Type, ev.Rollout.Wave))
	}
	ordered := slices.SortedFunc(maps.Values(m.rollouts), func(a, b rollout.Rollout) int {
		if c := strings.Compare(a.Layer.String(), b.Layer.String()); c != 0 {
			return c
		}
		return a.Target - b.Target
	})
	for _, r := range ordered {
		id := r.ID
		if len(r.Log) >= rolloutLogCap {
			continue
		}
		if want := expectedEvents(r); !slices.Equal(got[id], want) {
			m.violated(t, 6, "the rollout of %s %d→%d (log %s) was reported by the events %v, want %v", r.Layer, r.Stable, r.Target, describeLog(r), got[id], want)
		}
	}
}

// watch is what the model knows of a rollout's current wave from the ticks that judged it.
type watch struct {
	wave      int
	startedAt time.Time
	// reachedAny: the clusters seen Synced and Healthy on what they were served since the
	// wave started; reachedSince: on the configVersion, since the wave (re)started (resume).
	reachedAny   map[string]bool
	reachedSince map[combo]bool
	// clearSince is when the ticks last began to see none of the wave's clusters on its way
	// (zero: the last judging tick saw one).
	clearSince time.Time
}

func (m *model) watchOf(r rollout.Rollout) *watch {
	w := m.watches[r.ID]
	if w == nil || w.wave != r.Wave {
		w = &watch{wave: r.Wave, startedAt: r.WaveStartedAt, reachedAny: map[string]bool{}, reachedSince: map[combo]bool{}}
		m.watches[r.ID] = w
	}
	if !w.startedAt.Equal(r.WaveStartedAt) {
		w.startedAt, w.reachedSince, w.clearSince = r.WaveStartedAt, map[combo]bool{}, time.Time{}
	}
	return w
}

// judgement is the model's view of a rollout's current wave at a tick.
type judgement struct {
	r        rollout.Rollout
	clusters []string
	failed   []string // a failed attempt of what they are served, or Degraded
	pending  []string // on their way: neither there nor failed nor past the timeout
	drifting []string // pending after they had been Synced and Healthy: never failures
	timedOut []string // never Synced and Healthy since the wave started, past the timeout
	// lower and upper bound the clusters that count as failed: lower counts a timeout only
	// for a cluster never seen Synced and Healthy in the wave, upper for one not seen so on
	// what it is served since the wave (re)started.
	lower, upper int
	clear        bool
	clearSince   time.Time
}

// judge is the model's judgement of every live rollout a tick at now judges (progressing,
// announced), from the registry as the tick reads it and what Argo CD reports.
func (m *model) judge(inv *registry.Inventory, now time.Time) map[config.LayerRef]*judgement {
	out := map[config.LayerRef]*judgement{}
	for ref := range inv.Rollouts {
		r, ok := inv.LiveRollout(ref)
		if !ok {
			continue
		}
		w := m.watchOf(r)
		if r.State != rollout.Progressing || !r.Announced {
			continue
		}
		j := &judgement{r: r}
		past := now.Sub(r.WaveStartedAt) > modelWaveTimeout
		for _, c := range inv.Affected(ref, nil) {
			if waveOf(r, c.Name) != r.Wave {
				continue
			}
			j.clusters = append(j.clusters, c.Name)
			k := combo{c.Name, c.Served}
			switch m.argo[c.Name].verdict() {
			case vGood:
				w.reachedAny[c.Name], w.reachedSince[k] = true, true
			case vFailed:
				j.failed = append(j.failed, c.Name)
			default:
				if past && !w.reachedAny[c.Name] {
					j.lower++
				}
				switch {
				case past && !w.reachedSince[k]:
					j.upper++
					j.timedOut = append(j.timedOut, c.Name)
				case w.reachedAny[c.Name]:
					j.drifting = append(j.drifting, c.Name)
					j.pending = append(j.pending, c.Name)
				default:
					j.pending = append(j.pending, c.Name)
				}
			}
		}
		j.lower += len(j.failed)
		j.upper += len(j.failed)
		j.clear = len(j.pending) == 0
		switch {
		case !j.clear:
			w.clearSince = time.Time{}
		case w.clearSince.IsZero():
			w.clearSince = now
		}
		j.clearSince = w.clearSince
		out[ref] = j
	}
	return out
}

// newSteps are the steps added to the log of pre by the time it reads as post (nil when
// post is another rollout, or its log lost steps).
func newSteps(pre, post rollout.Rollout) []rollout.Step {
	if post.ID != pre.ID || len(post.Log) >= rolloutLogCap || len(post.Log) < len(pre.Log) {
		return nil
	}
	return post.Log[len(pre.Log):]
}

// checkTick holds invariants 3, 4 and 5 over one tick: pre and post are the registry before
// and after it, judged the model's judgement of the rollouts it judged.
func (m *model) checkTick(t *rapid.T, pre, post *registry.Inventory, judged map[config.LayerRef]*judgement, now time.Time) {
	for ref, r := range post.Rollouts {
		for _, s := range newSteps(pre.Rollouts[ref], r) {
			if s.Actor == progress.DriverActor {
				m.stats.steps[s.Event]++
			}
		}
	}
	for _, j := range judged {
		if len(j.failed) > 0 {
			m.stats.failedSeen++
		}
		if len(j.drifting) > 0 {
			m.stats.driftSeen++
		}
	}
	refs := slices.Collect(maps.Keys(judged))
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		j := judged[ref]
		r := j.r
		w := r.Current()
		steps := newSteps(r, post.Rollouts[ref])
		var halted, completed bool
		var reason string
		for _, s := range steps {
			switch {
			case s.Event == rollout.EventHalted && s.Wave == r.Wave:
				halted, reason = true, s.Reason
			case s.Event == rollout.EventWaveCompleted && s.Wave == r.Wave:
				completed = true
			}
		}
		at := fmt.Sprintf("the rollout of %s %d→%d, wave %d/%d (%s, maxFailures %d) at %s", ref, r.Stable, r.Target, r.Wave+1, len(r.Waves), w.Name, w.MaxFailures, since(now))
		state := fmt.Sprintf("failed %v, timed out %v, drifting after Synced/Healthy %v, on their way %v", j.failed, j.timedOut, j.drifting, j.pending)
		if !halted && j.lower > w.MaxFailures {
			m.violated(t, 5, "%s: at least %d of its clusters %v failed (%s), and the tick did not halt it", at, j.lower, j.clusters, state)
		}
		if halted && j.upper <= w.MaxFailures {
			m.violated(t, 5, "%s: the tick halted it (%q), but at most %d of its clusters %v count as failed (%s)", at, reason, j.upper, j.clusters, state)
		}
		if completed && !halted {
			if !j.clear {
				m.violated(t, 3, "%s: the wave completed while clusters were on their way (%s)", at, state)
			}
			if !r.Promoted && w.Bake > 0 && len(j.clusters) > 0 && now.Sub(j.clearSince) < w.Bake {
				m.violated(t, 3, "%s: the wave completed after its clusters %v were Synced and Healthy for %s only (since %s), bake %s",
					at, j.clusters, now.Sub(j.clearSince), since(j.clearSince), w.Bake)
			}
		}
	}
	// Invariant 4: a tick leaves no halted or aborted rollout live: the head is back at the
	// stable version.
	refs = slices.Collect(maps.Keys(post.Rollouts))
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		if r, live := post.LiveRollout(ref); live && (r.State == rollout.Halted || r.State == rollout.Aborted) {
			m.violated(t, 4, "after the tick the rollout of %s %d→%d is still %s with the head at version %d; the driver must move the head back to the stable version %d (reason: %s)",
				ref, r.Stable, r.Target, r.State, post.Heads[ref].Version, r.Stable, oneLine(fmt.Errorf("%s", r.Reason)))
		}
	}
}

var traceRE = regexp.MustCompile(`\s*\[trace [0-9a-f]+\]`)

// withoutTrace is a message without its random trace id: rapid tells a failure from another
// by its message.
func withoutTrace(s string) string { return traceRE.ReplaceAllString(strings.TrimSpace(s), "") }

// clusterFailureEvents are the events a driver sends for one failing cluster of a wave, before
// the step (a halt) they may cause; they are not steps of the rollout's log.
var clusterFailureEvents = map[string]bool{event.SyncFailed: true, event.Degraded: true, event.RolloutTimeout: true}
