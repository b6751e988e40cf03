package serve

import (
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestAFailedSyncHaltsTheWaveWithEventsInOrder: env/dev rolled out in two waves (dev-a
// first), the canary's sync of the new version fails. The rollout halts on the failed
// attempt, without waiting for Argo CD to spend its retries; the webhook receives the
// canary's sync-failed once, before the rollout-halted it caused; the operation that keeps
// retrying the halted version is ended; and once the canary is back, its synced event names
// the version it is synced to (env/dev 1, g1.e1.c1), not the halted publish.
func TestAFailedSyncHaltsTheWaveWithEventsInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fail func(a *argocdtest.App, start time.Time)
	}{
		{"Argo CD retrying the failed attempt", func(a *argocdtest.App, start time.Time) {
			a.OpPhase, a.OpRetries, a.OpFinished = "Running", 1, start.Add(2*time.Second)
			a.OpMessage = "one or more objects failed to apply, reason: admission webhook denied the request. Retrying attempt #1 at 10:00AM."
		}},
		{"the operation failed", func(a *argocdtest.App, start time.Time) {
			a.OpPhase, a.OpRetries, a.OpFinished = "Failed", 0, start.Add(2*time.Second)
			a.OpMessage = "one or more objects failed to apply, reason: admission webhook denied the request"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newRolloutFixture(t, nil)
			ctx := testContext(t)
			s, err := rollout.ParseStrategy([]byte("name: dev-waves\nlayers: [env/dev]\nwaves:\n- {name: canary, namePattern: dev-a, bake: 1h}\n- {name: rest}\n"))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.st.PutStrategy(ctx, s, "tester"); err != nil {
				t.Fatal(err)
			}
			if _, err := ops.Publish(ctx, f.st, ops.PublishRequest{Ref: config.EnvLayer("dev"), Entries: []config.Entry{namespaceEntry(t, "dev-tools"), namespaceEntry(t, "bad")},
				Actor: "tester", Message: "a namespace the cluster refuses"}); err != nil {
				t.Fatal(err)
			}
			// The ApplicationSet pins the canary to g1.e2.c1; Argo CD's first sync attempt fails.
			start := time.Now().UTC()
			for _, name := range []string{"dev-a-namespaces", "dev-a-rbac"} {
				f.argo.update(name, func(a *argocdtest.App) {
					a.Pinned, a.Compared, a.Sync, a.Health = "g1.e2.c1", "g1.e2.c1", "OutOfSync", "Healthy"
					a.OpSource, a.OpStarted = "g1.e2.c1", start
					a.OpResults = []argocd.ResourceResult{{Kind: "Namespace", Name: "bad", Status: "SyncFailed", Message: "admission webhook denied the request"}}
					tc.fail(a, start)
				})
			}
			f.hook.wait(t, "the rollout halted", func(e event.Event) bool { return e.Type == event.RolloutHalted })
			// The ApplicationSet pins the canary to g1.e1.c1 again; Argo CD syncs it.
			for _, name := range []string{"dev-a-namespaces", "dev-a-rbac"} {
				f.argo.update(name, func(a *argocdtest.App) {
					a.Pinned, a.Compared, a.Sync, a.Health = "g1.e1.c1", "g1.e1.c1", "Synced", "Healthy"
				})
			}
			synced := f.hook.wait(t, "dev-a synced again", func(e event.Event) bool { return e.Type == event.Synced && e.Cluster == "dev-a" })
			if synced.ConfigVersion != "g1.e1.c1" || synced.Layer != "env/dev" || synced.Version != 1 || synced.PreviousVersion != 2 {
				t.Errorf("synced event: %s %s %s %d→%d, want env/dev back from 2 to 1 on g1.e1.c1", synced.Layer, synced.ConfigVersion, synced.Action, synced.PreviousVersion, synced.Version)
			}
			f.hook.wait(t, "the rollout rolled back", func(e event.Event) bool { return e.Type == event.RolloutRolledBack })
			var got []string
			for _, e := range f.hook.events() {
				switch e.Type {
				case event.RolloutWaveStarted, event.SyncFailed, event.Degraded, event.RolloutHalted, event.RolloutRolledBack, event.Synced:
					got = append(got, e.Type+":"+e.Cluster+":"+e.ConfigVersion)
				}
			}
			want := []string{"rollout-wave-started::", "sync-failed:dev-a:g1.e2.c1", "rollout-halted::", "rollout-rolled-back::", "synced:dev-a:g1.e1.c1"}
			if !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
			if n := countOf(got, "sync-failed:dev-a:g1.e2.c1"); n != 1 {
				t.Errorf("%d sync-failed events for dev-a, want 1: %v", n, got)
			}
			if slices.Contains(got, "synced:dev-a:g1.e2.c1") {
				t.Errorf("dev-a reported synced on the halted version: %v", got)
			}
			if tc.name == "Argo CD retrying the failed attempt" {
				eventually(t, "the retrying operations ended", func() bool {
					f.argo.mu.Lock()
					defer f.argo.mu.Unlock()
					return len(f.argo.terminated) == 2
				})
			}
			heads, err := f.st.Heads(ctx, config.EnvLayer("dev"))
			if err != nil {
				t.Fatal(err)
			}
			if h := heads[config.EnvLayer("dev")]; h.Version != 1 || h.Action != store.ActionRollback {
				t.Errorf("head of env/dev %d (%s), want rolled back to 1", h.Version, h.Action)
			}
		})
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
