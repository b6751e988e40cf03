package rollout

import (
	"fmt"
	"slices"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// State is where a rollout is.
type State string

// The states of a rollout. Progressing and Paused serve the target to the waves reached;
// Halted and Aborted serve the stable version to every cluster until the head is rolled back
// (then RolledBack); Completed serves the target everywhere.
const (
	Progressing State = "progressing"
	Paused      State = "paused"
	Halted      State = "halted"
	Aborted     State = "aborted"
	RolledBack  State = "rolled-back"
	Completed   State = "completed"
)

// Terminal reports whether nothing moves a rollout in state s any more.
func (s State) Terminal() bool { return s == RolledBack || s == Completed }

// maxLog bounds the steps a rollout keeps.
const maxLog = 64

// Rollout is the rollout of one version of a global or environment layer. It is one item in
// the table, written by the publish that starts it (in the transaction that moves the head)
// and then by conditional steps (its Rev), so any replica of serve may drive it and none
// takes a step twice.
type Rollout struct {
	Layer config.LayerRef `json:"layer"`
	// ID tells this rollout from an earlier one of the same layer (the publish's trace id).
	ID       string `json:"id"`
	Strategy string `json:"strategy"`
	// Stable is the version the clusters not reached yet are served; Target the version
	// rolled out.
	Stable int           `json:"stable"`
	Target int           `json:"target"`
	Waves  []PlannedWave `json:"waves"`
	State  State         `json:"state"`
	// Wave is the index of the current wave.
	Wave          int       `json:"wave"`
	WaveStartedAt time.Time `json:"waveStartedAt"`
	// BakeStartedAt is when every cluster of the current wave was last seen Synced and
	// Healthy on its target (zero: not all of them are).
	BakeStartedAt time.Time `json:"bakeStartedAt,omitzero"`
	// Settled are the clusters of the current wave seen Synced and Healthy on what they are
	// served since the wave started: the wave's timeout no longer applies to them (a drift
	// only restarts the bake). FailuresReported are the clusters of the current wave whose
	// failure was reported (each is reported once per wave). Both are sorted and start empty
	// with each wave.
	Settled          []string `json:"settled,omitempty"`
	FailuresReported []string `json:"failuresReported,omitempty"`
	// Promoted skips the bake of the current wave.
	Promoted bool `json:"promoted,omitempty"`
	// Announced is set once the start of the rollout was reported.
	Announced bool      `json:"announced,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Actor     string    `json:"actor"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Rev counts the writes of this rollout; a step is written only over the Rev it read.
	Rev int    `json:"rev"`
	Log []Step `json:"log,omitempty"`
}

// Step is one transition of a rollout.
type Step struct {
	At     time.Time `json:"at"`
	Event  string    `json:"event"`
	Wave   int       `json:"wave"`
	Actor  string    `json:"actor,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// New is the rollout of version target of ref over stable, planned by s.
func New(ref config.LayerRef, s *Strategy, members []Member, stable, target int, id, actor string, at time.Time) Rollout {
	return Rollout{
		Layer: ref, ID: id, Strategy: s.Name, Stable: stable, Target: target, Waves: s.Plan(members),
		State: Progressing, WaveStartedAt: at, Actor: actor, StartedAt: at, UpdatedAt: at, Rev: 1,
		Log: []Step{{At: at, Event: "started", Actor: actor}},
	}
}

// Live reports whether the rollout decides what its layer's clusters are served: the head
// (at version head, moved there by the move traced headTrace) is still the publish that
// started it, and it is not over. Any later head move — a publish, a rollback, even back to
// the same version — ends its say.
func (r *Rollout) Live(head int, headTrace string) bool {
	return head == r.Target && headTrace == r.ID && !r.State.Terminal()
}

// Index answers, for many clusters in constant time each (a fleet of thousands is served
// from one snapshot), which wave reaches a cluster and what the rollout serves it.
type Index struct {
	r    *Rollout
	wave map[string]int
}

// Index indexes the plan of r (which must not change while the index is used).
func (r *Rollout) Index() Index {
	m := map[string]int{}
	for i, w := range r.Waves {
		for _, c := range w.Clusters {
			if _, ok := m[c]; !ok {
				m[c] = i
			}
		}
	}
	return Index{r: r, wave: m}
}

// Listed reports whether the plan names cluster (it was registered when the rollout started).
func (x Index) Listed(cluster string) bool {
	_, ok := x.wave[cluster]
	return ok
}

// WaveOf is the index of the wave that reaches cluster; a cluster the plan does not list (it
// was registered after the publish) is in the last wave.
func (x Index) WaveOf(cluster string) int {
	if i, ok := x.wave[cluster]; ok {
		return i
	}
	return len(x.r.Waves) - 1
}

// Served is the version of the rollout's layer served to cluster while the rollout is live.
func (x Index) Served(cluster string) int {
	if x.Reached(cluster) {
		return x.r.Target
	}
	return x.r.Stable
}

// Reached reports whether the rollout serves cluster its target (its wave started, and the
// rollout was not halted or aborted).
func (x Index) Reached(cluster string) bool {
	switch x.r.State {
	case Halted, Aborted, RolledBack:
		return false
	case Completed:
		return true
	}
	return x.WaveOf(cluster) <= x.r.Wave
}

// Record appends a step (the log keeps the latest maxLog) and stamps the update.
func (r *Rollout) Record(at time.Time, event, actor, reason string) {
	r.UpdatedAt = at
	r.Log = append(r.Log, Step{At: at, Event: event, Wave: r.Wave, Actor: actor, Reason: reason})
	if len(r.Log) > maxLog {
		r.Log = slices.Delete(r.Log, 1, len(r.Log)-maxLog+1) // keep "started"
	}
}

// Current is the current wave (the last one once completed).
func (r *Rollout) Current() PlannedWave {
	return r.Waves[min(r.Wave, len(r.Waves)-1)]
}

// Describe is one line about where the rollout is, e.g. "wave 2/3 (rest), progressing".
func (r *Rollout) Describe() string {
	w := r.Current()
	return fmt.Sprintf("wave %d/%d (%s), %s", min(r.Wave, len(r.Waves)-1)+1, len(r.Waves), w.Name, r.State)
}

// Clone returns a deep copy.
func (r Rollout) Clone() Rollout {
	r.Waves = slices.Clone(r.Waves)
	for i := range r.Waves {
		r.Waves[i].Clusters = slices.Clone(r.Waves[i].Clusters)
	}
	r.Log = slices.Clone(r.Log)
	r.Settled = slices.Clone(r.Settled)
	r.FailuresReported = slices.Clone(r.FailuresReported)
	return r
}

// HasSettled reports whether cluster was seen Synced and Healthy in the current wave.
func (r *Rollout) HasSettled(cluster string) bool {
	_, ok := slices.BinarySearch(r.Settled, cluster)
	return ok
}

// MarkSettled records that cluster was seen Synced and Healthy in the current wave; false
// when it was already recorded.
func (r *Rollout) MarkSettled(cluster string) bool {
	return insertSorted(&r.Settled, cluster)
}

// MarkFailureReported records that the failure of cluster in the current wave was reported; false
// when it was already.
func (r *Rollout) MarkFailureReported(cluster string) bool {
	return insertSorted(&r.FailuresReported, cluster)
}

func insertSorted(list *[]string, s string) bool {
	i, ok := slices.BinarySearch(*list, s)
	if ok {
		return false
	}
	*list = slices.Insert(*list, i, s)
	return true
}

// Events of a rollout (its log, and the webhook events serve sends for them).
const (
	EventStarted       = "started"
	EventWaveStarted   = "wave-started"
	EventWaveCompleted = "wave-completed"
	EventCompleted     = "completed"
	EventHalted        = "halted"
	EventRolledBack    = "rolled-back"
	EventPaused        = "paused"
	EventResumed       = "resumed"
	EventAborted       = "aborted"
	EventPromoted      = "promoted"
)

// StateError is an operator action the rollout's state does not allow.
type StateError struct {
	Layer  config.LayerRef
	Action string
	State  State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s the rollout of %s: it is %s", e.Action, e.Layer, e.State)
}

func (r *Rollout) refuse(action string, allowed ...State) error {
	if slices.Contains(allowed, r.State) {
		return nil
	}
	return &StateError{Layer: r.Layer, Action: action, State: r.State}
}

// Pause stops a progressing rollout where it is: the waves reached keep the target, no
// wave starts.
func (r *Rollout) Pause(at time.Time, actor, reason string) error {
	if err := r.refuse("pause", Progressing); err != nil {
		return err
	}
	r.State = Paused
	r.Record(at, EventPaused, actor, reason)
	return nil
}

// Resume continues a paused rollout; the current wave's bake and timeout start again.
func (r *Rollout) Resume(at time.Time, actor, reason string) error {
	if err := r.refuse("resume", Paused); err != nil {
		return err
	}
	r.State, r.WaveStartedAt, r.BakeStartedAt = Progressing, at, time.Time{}
	r.Record(at, EventResumed, actor, reason)
	return nil
}

// Promote skips the bake of the current wave: the next wave starts as soon as this one is
// Synced and Healthy.
func (r *Rollout) Promote(at time.Time, actor, reason string) error {
	if err := r.refuse("promote", Progressing, Paused); err != nil {
		return err
	}
	r.Promoted = true
	r.Record(at, EventPromoted, actor, reason)
	return nil
}

// Abort ends the rollout by hand: every cluster is served the stable version again (the
// caller then rolls the head back to it, see RolledBackTo).
func (r *Rollout) Abort(at time.Time, actor, reason string) error {
	if err := r.refuse("abort", Progressing, Paused, Halted); err != nil {
		return err
	}
	r.State, r.Reason = Aborted, reason
	r.Record(at, EventAborted, actor, reason)
	return nil
}

// Halt ends a failing rollout: every cluster is served the stable version again.
func (r *Rollout) Halt(at time.Time, actor, reason string) {
	r.State, r.Reason = Halted, reason
	r.Record(at, EventHalted, actor, reason)
}

// RolledBack records that the head was moved back to the stable version (0, no entries, for
// the rollout of a layer's first version).
func (r *Rollout) RolledBack(at time.Time, actor, reason string) {
	r.State = RolledBack
	r.Record(at, EventRolledBack, actor, reason)
}

// SkippedReason is the reason recorded with the completion of a wave that has no cluster.
const SkippedReason = "no cluster in this wave: completed at once, without its bake"

// Advance completes the current wave and starts the next, or completes the rollout. It
// reports whether the rollout completed.
func (r *Rollout) Advance(at time.Time, actor string) (completed bool) {
	return r.advance(at, actor, "")
}

// Skip completes the current wave at once because no cluster is in it (its bake is not
// waited for), and starts the next, or completes the rollout. It reports whether the rollout
// completed.
func (r *Rollout) Skip(at time.Time, actor string) (completed bool) {
	return r.advance(at, actor, SkippedReason)
}

func (r *Rollout) advance(at time.Time, actor, reason string) (completed bool) {
	r.Record(at, EventWaveCompleted, actor, reason)
	r.BakeStartedAt, r.Promoted = time.Time{}, false
	r.Settled, r.FailuresReported = nil, nil
	if r.Wave+1 >= len(r.Waves) {
		r.State = Completed
		r.Record(at, EventCompleted, actor, "")
		return true
	}
	r.Wave++
	r.WaveStartedAt = at
	r.Record(at, EventWaveStarted, actor, "")
	return false
}
