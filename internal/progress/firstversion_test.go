package progress

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Issue 18 §1: a halted rollout of a layer's first version used to stand with the head at
// version 1 while every cluster was served version 0. The driver rolls the head back to 0
// (no entries), so the head equals what is served, and everything served renders.
func TestDriverRollsAHaltedFirstVersionBackToZero(t *testing.T) {
	st, _ := dynamolocal.NewStore(t)
	ctx := testkit.Context(t)
	pub := func(ref config.LayerRef, entries ...config.Entry) *ops.PublishResult {
		t.Helper()
		res, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: ref, Entries: entries, Actor: "alice"})
		if err != nil {
			t.Fatalf("publish %s: %v", ref, err)
		}
		return res
	}
	for _, c := range []string{"qa-a", "qa-b"} {
		pub(config.ClusterLayer(c),
			testkit.Entry(t, config.KindCluster, map[string]any{"name": c, "environment": "qa", "region": "eu-west-1"}),
			testkit.Entry(t, config.KindNamespace, map[string]any{"namespace": "web"}))
	}
	s, err := rollout.ParseStrategy([]byte("name: default\nwaves:\n- {name: first, namePattern: qa-a}\n- {name: rest}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutStrategy(ctx, s, "alice"); err != nil {
		t.Fatal(err)
	}
	if res := pub(config.EnvLayer("qa"), testkit.Entry(t, config.KindNamespace, map[string]any{"namespace": "qa-tools"})); res.Rollout == nil || res.Rollout.Stable != 0 {
		t.Fatalf("the first publish of env/qa planned %+v, want a rollout over version 0", res.Rollout)
	}
	fleet := &fakeFleet{t: t, st: st, bad: map[string]int{"qa-a": 1}}
	clk := &clock{t: time.Now().UTC()}
	evs := &events{}
	d := newTestDriver(t, st, fleet, clk, evs, "r1")
	for range 4 {
		tick(t, d)
		clk.Add(time.Second)
	}
	if got := served(t, st); got != "qa-a=e0 qa-b=e0" {
		t.Errorf("after the halt: %s, want every cluster on version 0", got)
	}
	heads, err := st.Heads(ctx, config.EnvLayer("qa"))
	if err != nil {
		t.Fatal(err)
	}
	if h := heads[config.EnvLayer("qa")]; h.Version != 0 || h.Previous != 1 || h.Action != store.ActionRollback || h.Actor != DriverActor ||
		!strings.Contains(h.Message, "back to version 0 (no entries)") {
		t.Errorf("head %+v, want rolled back to 0 by the driver", h)
	}
	rs, _ := st.Rollouts(ctx)
	if len(rs) != 1 || rs[0].State != rollout.RolledBack || !strings.Contains(rs[0].Log[len(rs[0].Log)-1].Reason, "version 0 (no entries)") {
		t.Errorf("rollout %+v, want rolled back to version 0", rs)
	}
	// The failing cluster is reported (degraded) before the halt it causes.
	want := []string{"rollout-started:1", "rollout-wave-started:1", "degraded:1", "rollout-halted:1", "rollout-rolled-back:1"}
	if got := evs.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// What is served renders through generate's read.
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range inv.Clusters {
		v := c.Served
		read, err := st.ReadCluster(ctx, store.ClusterRequest{Cluster: c.Name, Version: &v})
		if err == nil {
			_, err = ops.Render(read.Layers, c.Name, nil, render.Options{}, nil)
		}
		if err != nil {
			t.Errorf("%s is served %s, which does not render: %v", c.Name, v, err)
		}
	}
}
