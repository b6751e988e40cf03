package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// rolloutAction is one of the operator actions on a live rollout.
type rolloutAction struct {
	name  string // the command, and "rollout-<name>" in the audit trail
	short string
	long  string
	apply func(r *rollout.Rollout, at time.Time, actor, reason string) error
	// served: the action changes what clusters are served (the generator must read again).
	served bool
}

var (
	actionPause = rolloutAction{
		name:  "pause",
		short: "Pause a layer's rollout: the waves reached keep the new version, no further wave starts",
		long: `Pause stops a progressing rollout where it is: the clusters of the waves reached keep being
served the new version, the others the stable one, and no wave starts until "rollout resume".`,
		apply: (*rollout.Rollout).Pause,
	}
	actionResume = rolloutAction{
		name:  "resume",
		short: "Resume a paused rollout; the current wave's bake and timeout start again",
		long: `Resume continues a paused rollout. The current wave's bake time (and its timeout) start
again: its clusters must be Synced and Healthy for the whole bake before the next wave starts.
A wave promoted before or while paused keeps skipping its bake: it completes as soon as its
clusters are Synced and Healthy.`,
		apply: (*rollout.Rollout).Resume,
	}
	actionPromote = rolloutAction{
		name:  "promote",
		short: "Skip the bake of a rollout's current wave",
		long: `Promote skips the bake time of the current wave: the next wave starts as soon as every
Application of the current wave's clusters is Synced and Healthy on the new version. A paused
rollout stays paused (resume it to move on). Promoting a wave promoted already changes nothing
and is not audited again.`,
		apply: (*rollout.Rollout).Promote,
	}
	actionAbort = rolloutAction{
		name:  "abort",
		short: "Abort a rollout: every cluster is served the stable version again and the head is rolled back to it",
		long: `Abort ends a rollout by hand: every cluster of the layer is served the stable version again
(the version before the rollout), and the layer's head is then rolled back to it, on condition
that it is still at the rolled-out version (a publish or rollback since wins; nothing is moved
then). The rollback validates every cluster like "config rollback" and is audited as one.
A rollout of a layer's first version goes back to version 0, the layer without entries (as
before its first publish): every cluster is served it and the head moves back to 0.
Running abort again after a rollback that failed or was interrupted retries the rollback.`,
		apply:  (*rollout.Rollout).Abort,
		served: true,
	}
)

// rolloutActionFlags are the flags of rollout pause, resume, promote and abort.
type rolloutActionFlags struct {
	layer   string
	message string
	actor   string
}

// rolloutRetries is how many times an action is tried over a rollout that serve changed
// meanwhile (serve writes a rollout at every step of a wave).
const rolloutRetries = 5

func newRolloutActionCommand(streams IOStreams, env Env, a rolloutAction) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f rolloutActionFlags
	cmd := &cobra.Command{
		Use:   a.name + " --layer LAYER [-m MESSAGE]",
		Short: a.short,
		Long: a.long + `

The action is recorded in the layer's audit trail ("config history") as rollout-` + a.name + `.
It is refused (exit 1) when the layer has no live rollout or the rollout's state does not
allow it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runRolloutAction(cmd.Context(), a, f)
		},
	}
	cmd.Flags().StringVar(&f.layer, "layer", "", "layer whose rollout to "+a.name+": global or env/<environment> (required)")
	cmd.Flags().StringVarP(&f.message, "message", "m", "", "why: recorded in the rollout and the audit trail")
	cmd.Flags().StringVar(&f.actor, "actor", "", "who: recorded in the audit trail (default: the AWS caller identity)")
	o.addFlags(cmd)
	return cmd
}

// runRolloutAction applies an operator action to a layer's live rollout, over whatever serve
// wrote meanwhile (re-read and retried when the rollout moved under it).
func (o *operator) runRolloutAction(ctx context.Context, a rolloutAction, f rolloutActionFlags) error {
	ref, err := parseRolloutLayer(f.layer)
	if err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		actor := o.actor(ctx, st, f.actor)
		trace := traceid.New()
		var written rollout.Rollout
		for attempt := 1; ; attempt++ {
			reg, err := st.RegistryState(ctx)
			if err != nil {
				return storeError(err)
			}
			inv := registry.InventoryOf(reg)
			r, ok := inv.LiveRollout(ref)
			if !ok {
				return withCode(ExitInvalid, noLiveRollout(inv, ref, a.name))
			}
			if a.name == "abort" && r.State == rollout.Aborted {
				// Aborted before, and the head is still at the target: the rollback failed
				// or was interrupted. Do it now.
				fmt.Fprintf(o.streams.Out, "the rollout of %s version %d is aborted already: every cluster is served version %s; rolling the head back\n", ref, r.Target, ops.VersionText(r.Stable))
				return o.rollBackAborted(ctx, st, r, actor, f.message)
			}
			if a.name == "promote" && r.Promoted && (r.State == rollout.Progressing || r.State == rollout.Paused) {
				// Promoting twice changes nothing: say so, and audit nothing.
				fmt.Fprintf(o.streams.Out, "the rollout of %s version %d is promoted already at %s: nothing was changed\n", ref, r.Target, r.Describe())
				return nil
			}
			now := time.Now().UTC()
			if err := a.apply(&r, now, actor, f.message); err != nil {
				var se *rollout.StateError
				if errors.As(err, &se) {
					return withCode(ExitInvalid, fmt.Errorf("%w; nothing was changed", err))
				}
				return err
			}
			written, err = st.UpdateRollout(ctx, r, store.RolloutUpdate{Served: a.served, Audit: &store.AuditRecord{
				Ref: ref, Action: "rollout-" + a.name, From: r.Target, To: r.Target, At: now, Actor: actor, Message: f.message, TraceID: trace,
			}})
			var moved *store.RolloutMovedError
			if errors.As(err, &moved) && attempt < rolloutRetries {
				continue
			}
			if err != nil {
				return storeError(err)
			}
			break
		}
		w := o.streams.Out
		switch a.name {
		case "pause":
			fmt.Fprintf(w, "paused the rollout of %s version %d at %s: the waves reached keep version %d, no further wave starts until: dynamo-cmp rollout resume --layer %s [trace %s]\n",
				ref, written.Target, written.Describe(), written.Target, ref, trace)
		case "resume":
			then := "the wave's bake and its timeout start again"
			if written.Promoted {
				then = "the wave is promoted, so it completes as soon as its clusters are Synced and Healthy, without its bake; its timeout starts again"
			}
			fmt.Fprintf(w, "resumed the rollout of %s version %d at %s: %s [trace %s]\n", ref, written.Target, written.Describe(), then, trace)
		case "promote":
			then := ""
			if written.State == rollout.Paused {
				then = " once resumed"
			}
			fmt.Fprintf(w, "promoted the rollout of %s version %d at %s: the next wave starts%s as soon as this one's clusters are Synced and Healthy, without its bake [trace %s]\n",
				ref, written.Target, written.Describe(), then, trace)
		case "abort":
			fmt.Fprintf(w, "aborted the rollout of %s version %d at %s: every cluster is served version %s again [trace %s]\n",
				ref, written.Target, written.Describe(), ops.VersionText(written.Stable), trace)
			return o.rollBackAborted(ctx, st, written, actor, f.message)
		}
		return nil
	})
}

// noLiveRollout says why a layer has no rollout an operator action can act on.
func noLiveRollout(inv *registry.Inventory, ref config.LayerRef, action string) error {
	head, published := inv.Heads[ref]
	r, ok := inv.Rollouts[ref]
	switch {
	case !published:
		return fmt.Errorf("cannot %s: %s has never been published, so it has no rollout", action, ref)
	case !ok:
		return fmt.Errorf("cannot %s: %s has no rollout; its publishes reached every cluster at once", action, ref)
	case r.State == rollout.Completed:
		return fmt.Errorf("cannot %s: the rollout of %s version %d is over: it completed at %s", action, ref, r.Target, stamp(r.UpdatedAt))
	case r.State == rollout.RolledBack:
		return fmt.Errorf("cannot %s: the rollout of %s version %d is over: it was rolled back at %s", action, ref, r.Target, stamp(r.UpdatedAt))
	default:
		by := "a later publish"
		if head.Action == store.ActionRollback {
			by = "a rollback"
		}
		return fmt.Errorf("cannot %s: the rollout of %s version %d was superseded by %s: the head is at version %d since %s (by %s)",
			action, ref, r.Target, by, head.Version, stamp(head.At), cell(head.Actor))
	}
}

// rollBackAborted moves the head of an aborted rollout's layer back to its stable version
// (ops.RollBackToStable), then records the rollout as rolled back.
func (o *operator) rollBackAborted(ctx context.Context, st *store.Store, r rollout.Rollout, actor, message string) error {
	w := o.streams.Out
	trace := traceid.New()
	why := fmt.Sprintf("abort of the rollout of version %d", r.Target)
	if message != "" {
		why += ": " + message
	}
	res, err := ops.RollBackToStable(ctx, st, r, ops.RollbackRequest{Actor: actor, Message: why, TraceID: trace, Progress: o.progress()})
	if errors.Is(err, store.ErrConflict) {
		heads, herr := st.Heads(ctx, r.Layer)
		if herr == nil && heads[r.Layer].Version == r.Stable {
			fmt.Fprintf(w, "the head of %s is already back at version %s (serve rolled it back)\n", r.Layer, ops.VersionText(r.Stable))
			return nil
		}
		fmt.Fprintf(w, "the head of %s moved since the rollout was read, so it was not rolled back: the new head decides what the clusters are served (see config history --layer %s)\n", r.Layer, r.Layer)
		return nil
	}
	if fail := deadlineFailure("roll back", r.Layer, o.so.timeout, trace, err); fail != nil {
		return fail
	}
	if err != nil {
		again := fmt.Sprintf("dynamo-cmp config rollback --layer %s --to %d", r.Layer, r.Stable)
		if r.Stable == 0 {
			again = fmt.Sprintf("dynamo-cmp rollout abort --layer %s", r.Layer) // config rollback takes no --to 0
		}
		return storeError(fmt.Errorf("the rollout is aborted and every cluster is served version %s, but rolling the head of %s back to it failed (the head stays at %d; roll back with: %s): %w",
			ops.VersionText(r.Stable), r.Layer, r.Target, again, err))
	}
	fmt.Fprintf(w, "rolled back %s from version %d to %s: %s; %d %s validated [trace %s]\n",
		r.Layer, res.Base, ops.VersionText(r.Stable), ops.Summary(res.Changes), len(res.Clusters), plural(len(res.Clusters), "cluster", "clusters"), trace)
	// Record the rollback in the rollout (serve may do it too, or write a step meanwhile).
	for attempt := 1; ; attempt++ {
		done := r.Clone()
		done.RolledBack(time.Now().UTC(), actor, fmt.Sprintf("the head was rolled back to version %s", ops.VersionText(r.Stable)))
		_, err := st.UpdateRollout(ctx, done, store.RolloutUpdate{})
		var moved *store.RolloutMovedError
		if !errors.As(err, &moved) {
			if err != nil {
				return storeError(fmt.Errorf("the head was rolled back, but recording it in the rollout failed: %w", err))
			}
			return nil
		}
		if attempt >= rolloutRetries {
			return storeError(fmt.Errorf("the head was rolled back, but recording it in the rollout failed: %w", err))
		}
		rollouts, err := st.Rollouts(ctx)
		if err != nil {
			return storeError(fmt.Errorf("the head was rolled back, but recording it in the rollout failed: %w", err))
		}
		i := -1
		for j := range rollouts {
			if rollouts[j].Layer == r.Layer {
				i = j
			}
		}
		if i < 0 || rollouts[i].ID != r.ID || rollouts[i].State.Terminal() {
			return nil // recorded by serve, or a new rollout replaced it
		}
		r = rollouts[i]
	}
}
