package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// upgradeModel is what readers must see of a table while releases of both key layouts write
// it and `table upgrade` runs at any moment: the change counter, the live rollout (its id and
// revision), the newest last-known-good and observation of a cluster.
type upgradeModel struct {
	ctx     context.Context
	s       *store.Store
	seq     int64
	rollout rollout.Rollout
	// legacy: the rollout is at the old key (an earlier release wrote it last).
	legacy     bool
	lkgAt      time.Time
	lkgVersion int
	obsAt      time.Time
	clock      time.Time
}

// TestUpgradeLayoutInvariants runs generated sequences of writes by this release (publish,
// rollout steps, last-known-good and observation records), writes an earlier release would make
// at the old keys (its rollout step, its last known good, its publish's counter), and `table
// upgrade`, and checks after every step that readers see exactly the model: the counter moved
// by every publish of either release, the rollout at its latest revision wherever it is, the
// newest record of either layout — nothing lost, nothing doubled — and that after an upgrade no
// old item is left and a second upgrade has nothing to move.
func TestUpgradeLayoutInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s, _ := newStore(t)
		ctx := testContext(t)
		publish(t, s, config.ClusterLayer("qa-a"), 0, clusterRecord(t, "qa-a", "qa"))
		publish(t, s, config.ClusterLayer("qa-b"), 0, clusterRecord(t, "qa-b", "qa"))
		r := firstVersionRollout(t, s, 0)
		seq, err := s.ChangeSeq(ctx)
		if err != nil {
			rt.Fatal(err)
		}
		m := &upgradeModel{ctx: ctx, s: s, seq: seq, rollout: r, clock: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
		cv := 1
		rt.Repeat(map[string]func(*rapid.T){
			"": func(rt *rapid.T) { m.check(rt) },
			"PublishClusterLayer": func(rt *rapid.T) {
				cv++
				h, err := s.Heads(ctx, config.ClusterLayer("qa-b"))
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := s.Publish(ctx, store.PublishInput{Ref: config.ClusterLayer("qa-b"), Base: h[config.ClusterLayer("qa-b")].Version,
					Entries: []config.Entry{clusterRecord(t, "qa-b", "qa"), namespace(t, fmt.Sprintf("n%d", cv), nil)}}); err != nil {
					rt.Fatal(err)
				}
				m.seq++
			},
			"RolloutStep": func(rt *rapid.T) {
				served := rapid.Bool().Draw(rt, "served")
				next := m.rollout.Clone()
				next.Record(m.tick(), "step", "tester", "")
				written, err := s.UpdateRollout(ctx, next, store.RolloutUpdate{Served: served})
				switch {
				case m.legacy:
					if !errors.Is(err, store.ErrOldLayout) {
						rt.Fatalf("a step of a rollout at the old key: %v, want ErrOldLayout", err)
					}
				case err != nil:
					rt.Fatalf("a step: %v", err)
				default:
					m.rollout = written
					if served {
						m.seq++
					}
				}
			},
			"OldReleaseRolloutStep": func(rt *rapid.T) {
				// The earlier release writes the next revision at the old key; its readers
				// read only there, so it only ever steps a rollout it finds there.
				if !m.legacy {
					if err := store.MoveRawItem(ctx, s, "rollout", "env#qa", "registry", "rollout#env#qa"); err != nil {
						rt.Fatal(err)
					}
					m.legacy = true
				}
				next := m.rollout.Clone()
				next.Record(m.tick(), "old step", "tester", "")
				next.Rev++
				body := mustJSON(rt, next)
				if err := store.PutRawItem(ctx, s, map[string]any{"pk": "registry", "sk": "rollout#env#qa", "layer": "env/qa",
					"id": next.ID, "rev": next.Rev, "state": string(next.State), "rollout": body}); err != nil {
					rt.Fatal(err)
				}
				m.rollout = next
			},
			"RecordLastKnownGood": func(rt *rapid.T) {
				at := m.tick()
				cv := rapid.IntRange(1, 9).Draw(rt, "version")
				if _, err := s.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "qa-a", Version: config.ConfigVersion{Cluster: cv}, At: at}); err != nil {
					rt.Fatal(err)
				}
				m.lkgAt, m.lkgVersion = at, cv
			},
			"OldReleaseLastKnownGood": func(rt *rapid.T) {
				at := m.tick()
				cv := rapid.IntRange(1, 9).Draw(rt, "version")
				if err := store.PutRawItem(ctx, s, map[string]any{"pk": "cluster#qa-a", "sk": "lkg", "cluster": "qa-a",
					"configVersion": config.ConfigVersion{Cluster: cv}.String(), "at": at.Format("2006-01-02T15:04:05.000000000Z07:00")}); err != nil {
					rt.Fatal(err)
				}
				m.lkgAt, m.lkgVersion = at, cv
			},
			"RecordObservation": func(rt *rapid.T) {
				at := m.tick()
				if err := s.PutObservations(ctx, []store.Observation{{Cluster: "qa-a", Applications: 1, Sync: "Synced", Health: "Healthy", At: at}}); err != nil {
					rt.Fatal(err)
				}
				m.obsAt = at
			},
			"OldReleasePublishCounter": func(rt *rapid.T) {
				// An operator still on the earlier release moves the old counter.
				if err := store.BumpLegacyChangeSeq(ctx, s); err != nil {
					rt.Fatal(err)
				}
				m.seq++
			},
			"Upgrade": func(rt *rapid.T) {
				if _, err := s.UpgradeLayout(ctx, rapid.Bool().Draw(rt, "dryRun")); err != nil {
					rt.Fatal(err)
				}
				reg, err := s.RegistryState(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				if len(reg.Legacy) == 0 {
					m.legacy = false
				}
			},
		})
		// At the end, an upgrade leaves nothing behind and a second one has nothing to move.
		if _, err := s.UpgradeLayout(ctx, false); err != nil {
			rt.Fatal(err)
		}
		m.legacy = false
		m.check(rt)
		if moves, err := s.UpgradeLayout(ctx, false); err != nil || len(moves) != 0 {
			rt.Fatalf("a second upgrade: %v, %v", moves, err)
		}
		if reg, err := s.RegistryState(ctx); err != nil || len(reg.Legacy) != 0 {
			rt.Fatalf("after the upgrade, old items left: %v, %v", reg.Legacy, err)
		}
	})
}

func (m *upgradeModel) tick() time.Time {
	m.clock = m.clock.Add(time.Second)
	return m.clock
}

func (m *upgradeModel) check(rt *rapid.T) {
	ctx := m.ctx
	seq, err := m.s.ChangeSeq(ctx)
	if err != nil || seq != m.seq {
		rt.Fatalf("ChangeSeq = %d, %v; want %d", seq, err, m.seq)
	}
	rs, err := m.s.Rollouts(ctx)
	if err != nil || len(rs) != 1 || rs[0].ID != m.rollout.ID || rs[0].Rev != m.rollout.Rev {
		rt.Fatalf("Rollouts = %+v, %v; want %s at revision %d", rs, err, m.rollout.ID, m.rollout.Rev)
	}
	reg, err := m.s.RegistryState(ctx)
	if err != nil || len(reg.Rollouts) != 1 || reg.Rollouts[0].Rev != m.rollout.Rev {
		rt.Fatalf("RegistryState rollouts = %+v, %v; want revision %d", reg.Rollouts, err, m.rollout.Rev)
	}
	lkg, err := m.s.LastKnownGood(ctx, "qa-a")
	switch {
	case err != nil:
		rt.Fatal(err)
	case m.lkgAt.IsZero() && len(lkg) != 0:
		rt.Fatalf("LastKnownGood = %+v, want none", lkg)
	case !m.lkgAt.IsZero() && (!lkg["qa-a"].At.Equal(m.lkgAt) || lkg["qa-a"].Version.Cluster != m.lkgVersion):
		rt.Fatalf("LastKnownGood = %+v, want c%d at %s", lkg, m.lkgVersion, m.lkgAt)
	}
	obs, err := m.s.Observations(ctx, "qa-a")
	if err != nil || (!m.obsAt.IsZero() && !obs["qa-a"].At.Equal(m.obsAt)) {
		rt.Fatalf("Observations = %+v, %v; want the one at %s", obs, err, m.obsAt)
	}
}

func mustJSON(rt *rapid.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		rt.Fatal(err)
	}
	return string(b)
}
