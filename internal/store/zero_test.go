package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// firstVersionRollout publishes version 1 of env/qa as a rollout in two waves over stable
// version 0 (qa-a first), the way ops.Publish starts one, and returns it as stored.
func firstVersionRollout(t *testing.T, s *store.Store, stable int) rollout.Rollout {
	t.Helper()
	strat, err := rollout.ParseStrategy([]byte("name: s\nwaves:\n- {name: first, namePattern: qa-a}\n- {name: rest}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ref := config.EnvLayer("qa")
	trace := fmt.Sprintf("trace-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), stable)
	r := rollout.New(ref, &strat, []rollout.Member{{Name: "qa-a", Environment: "qa"}, {Name: "qa-b", Environment: "qa"}}, stable, 0, trace, "tester", time.Now().UTC())
	h, err := s.Publish(testContext(t), store.PublishInput{Ref: ref, Base: stable, Entries: []config.Entry{namespace(t, "qa-tools", nil)}, TraceID: trace, Rollout: &r})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.Rollouts(testContext(t))
	if err != nil || len(rs) != 1 || rs[0].Target != h.Version {
		t.Fatalf("rollouts %+v %v", rs, err)
	}
	return rs[0]
}

// Issue 18 §1: the generator serves version 0 of a layer whose first version is rolling out
// (g1.e0.c1 to the clusters it has not reached), and generate refused that pin because the
// layer has a published version. A 0 pin is served, hence read, while that rollout is live;
// once it is over (or when it had a stable version) the pin is refused as before.
func TestZeroPinOfALayerWhoseFirstVersionRollsOut(t *testing.T) {
	s, calls := newStore(t)
	ctx := testContext(t)
	publish(t, s, config.GlobalLayer, 0, namespace(t, "monitoring", nil))
	publish(t, s, config.ClusterLayer("qa-b"), 0, clusterRecord(t, "qa-b", "qa"))
	r := firstVersionRollout(t, s, 0)

	pin := config.ConfigVersion{Global: 1, Env: 0, Cluster: 1}
	for _, env := range []string{"qa", ""} {
		before := calls.Total()
		got, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: env, Version: &pin})
		if err != nil {
			t.Fatalf("pinned %s (environment %q) while version 1 of env/qa rolls out over 0: %v", pin, env, err)
		}
		if len(got.Layers[1].Entries) != 0 || got.Version != pin {
			t.Errorf("read %+v, want env/qa empty at version 0", got)
		}
		if want := 2; env == "qa" && got.RoundTrips != want {
			t.Errorf("round trips %d, want %d (the pinned read, then the heads and rollouts of the 0 pins)", got.RoundTrips, want)
		}
		t.Logf("environment %q: %d calls", env, calls.Total()-before)
	}
	// Halted: every cluster is served version 0 until the head moves back.
	r.Halt(time.Now().UTC(), "tester", "qa-a failed")
	if r, err := s.UpdateRollout(ctx, r, store.RolloutUpdate{Served: true}); err != nil {
		t.Fatal(err)
	} else if _, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: "qa", Version: &pin}); err != nil {
		t.Errorf("pinned %s while the first rollout is halted: %v", pin, err)
	} else {
		// Completed (as if it had not halted): nothing serves version 0 any more.
		r.State = rollout.Completed
		if _, err := s.UpdateRollout(ctx, r, store.RolloutUpdate{Served: true}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: "qa", Version: &pin})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "pins env/qa to version 0 (no layer), but env/qa has published version 1") {
		t.Errorf("pinned %s once the rollout completed: %v, want refused", pin, err)
	}

	// A live rollout over a stable version other than 0 never serves 0.
	firstVersionRollout(t, s, 1)
	_, err = s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: "qa", Version: &pin})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "but env/qa has published version 2") {
		t.Errorf("pinned %s while version 2 rolls out over 1: %v, want refused", pin, err)
	}
}

// Issue 18 §1: a halted or aborted rollout of a layer's first version ends with the head back
// at version 0 (no entries), recorded like any rollback; every reader copes, and the next
// publish claims a new number.
func TestRollbackToVersionZero(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.EnvLayer("qa")
	publish(t, s, config.GlobalLayer, 0, namespace(t, "monitoring", nil))
	publish(t, s, config.ClusterLayer("qa-b"), 0, clusterRecord(t, "qa-b", "qa"))
	publish(t, s, ref, 0, namespace(t, "qa-tools", nil))

	h, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 1, To: 0, Actor: "bob", Message: "abort", TraceID: "t-zero"})
	if err != nil {
		t.Fatalf("rollback of env/qa to 0: %v", err)
	}
	if h.Version != 0 || h.Previous != 1 || h.Entries != 0 || h.Action != store.ActionRollback {
		t.Errorf("head %+v, want version 0 after 1", h)
	}
	heads, err := s.Heads(ctx, ref)
	if err != nil || heads[ref].Version != 0 || heads[ref].Actor != "bob" {
		t.Errorf("Heads: %+v %v, want env/qa at 0 by bob", heads, err)
	}
	reg, err := s.RegistryState(ctx)
	if err != nil {
		t.Fatalf("the registry with a head at 0: %v", err)
	}
	if n := len(reg.Heads); n != 3 {
		t.Errorf("registry heads %+v", reg.Heads)
	}
	audit, err := s.Audit(ctx, ref, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != store.ActionRollback || audit[0].From != 1 || audit[0].To != 0 {
		t.Errorf("audit %+v %v, want the rollback 1 → 0", audit, err)
	}
	for _, env := range []string{"qa", ""} {
		got, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: env})
		if err != nil || got.Version != (config.ConfigVersion{Global: 1, Env: 0, Cluster: 1}) || len(got.Layers[1].Entries) != 0 {
			t.Errorf("latest read (environment %q): %+v %v, want g1.e0.c1", env, got, err)
		}
		pin := config.ConfigVersion{Global: 1, Env: 0, Cluster: 1}
		if _, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "qa-b", Environment: env, Version: &pin}); err != nil {
			t.Errorf("pinned g1.e0.c1 with the head at 0 (environment %q): %v", env, err)
		}
	}

	// A cluster layer never goes to 0; a rollback from a stale version is a conflict.
	if _, err := s.Rollback(ctx, store.RollbackInput{Ref: config.ClusterLayer("qa-b"), From: 1, To: 0}); err == nil || !strings.Contains(err.Error(), "without its own layer") {
		t.Errorf("rollback of a cluster layer to 0: %v", err)
	}
	var conflict *store.ConflictError
	if _, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 1, Entries: []config.Entry{namespace(t, "stale", nil)}}); !errors.As(err, &conflict) || conflict.Actual != 0 {
		t.Errorf("publish over 1 with the head at 0: %v, want a conflict naming 0", err)
	}
	// Forward again, then back to 0, then a new publish: a new number.
	if h, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 0, To: 1}); err != nil || h.Version != 1 {
		t.Fatalf("rollback from 0 to 1: %+v %v", h, err)
	}
	if _, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 1, To: 0}); err != nil {
		t.Fatal(err)
	}
	if h := publish(t, s, ref, 0, namespace(t, "qa-tools-2", nil)); h.Version != 2 || h.Previous != 0 {
		t.Errorf("publish after the rollback to 0: %+v, want version 2 over 0", h)
	}
}
