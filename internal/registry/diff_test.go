package registry

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestDiffFollowsTheWaves: a publish rolled out in waves reaches only the clusters of the
// first wave; each later step is a change of exactly the clusters it moves, and a halt one of
// the clusters it sends back.
func TestDiffFollowsTheWaves(t *testing.T) {
	at := time.Unix(1000, 0)
	heads := func(envVersion int, trace string) []store.Head {
		hs := []store.Head{{Ref: config.EnvLayer("dev"), Version: envVersion, TraceID: trace, At: at.Add(time.Duration(envVersion) * time.Second)}}
		for _, c := range []string{"a", "b", "c"} {
			hs = append(hs, store.Head{Ref: config.ClusterLayer(c), Version: 1, At: at, Cluster: &config.Cluster{Name: c, Environment: "dev"}})
		}
		return hs
	}
	s := rollout.Strategy{Name: "two", Waves: []rollout.Wave{{Name: "first", NamePattern: "a"}, {Name: "rest"}}}
	r := rollout.New(config.EnvLayer("dev"), &s, []rollout.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}, 1, 2, "t2", "alice", at)
	before := InventoryOf(store.RegistryState{Heads: heads(1, "t1")})
	published := InventoryOf(store.RegistryState{Heads: heads(2, "t2"), Rollouts: []rollout.Rollout{r}})

	names := func(chs []Change) (out [][]string) {
		for _, ch := range chs {
			var n []string
			for _, c := range ch.Clusters {
				n = append(n, c.Name+"@"+c.Served.String())
			}
			out = append(out, n)
		}
		return out
	}
	chs := Diff(before, published, at)
	if len(chs) != 1 || chs[0].Step || !chs[0].Staged || !slices.Equal(names(chs)[0], []string{"a@g0.e2.c1"}) {
		t.Fatalf("publish: %+v %v, want one staged head move reaching a only", chs, names(chs))
	}

	next := r.Clone()
	next.Advance(at, "serve")
	next.Rev++
	wave2 := InventoryOf(store.RegistryState{Heads: heads(2, "t2"), Rollouts: []rollout.Rollout{next}})
	chs = Diff(published, wave2, at)
	if len(chs) != 1 || !chs[0].Step || !slices.Equal(names(chs)[0], []string{"b@g0.e2.c1", "c@g0.e2.c1"}) {
		t.Fatalf("wave 2: %+v %v, want one step reaching b and c", chs, names(chs))
	}

	halted := r.Clone()
	halted.Halt(at, "serve", "a failed")
	halted.Rev++
	chs = Diff(published, InventoryOf(store.RegistryState{Heads: heads(2, "t2"), Rollouts: []rollout.Rollout{halted}}), at)
	if len(chs) != 1 || !chs[0].Step || !slices.Equal(names(chs)[0], []string{"a@g0.e1.c1"}) {
		t.Fatalf("halt: %+v %v, want one step sending a back to e1", chs, names(chs))
	}

	// A bake start changes nothing served: no change at all.
	baking := r.Clone()
	baking.BakeStartedAt = at
	baking.Rev++
	if chs := Diff(published, InventoryOf(store.RegistryState{Heads: heads(2, "t2"), Rollouts: []rollout.Rollout{baking}}), at); len(chs) != 0 {
		t.Fatalf("bake start: %v, want no change", names(chs))
	}
}

func TestDiffSnapshots(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rec := func(env string) *config.Cluster { return &config.Cluster{Name: "a", Environment: env} }
	old := NewInventory([]store.Head{
		{Ref: config.GlobalLayer, Version: 1, At: at},
		{Ref: config.EnvLayer("dev"), Version: 1, At: at},
		{Ref: config.ClusterLayer("a"), Version: 1, At: at, Cluster: rec("dev")},
	})
	cur := NewInventory([]store.Head{
		{Ref: config.GlobalLayer, Version: 1, At: at},
		{Ref: config.EnvLayer("dev"), Version: 1, At: at.Add(time.Minute), Action: store.ActionRollback, Previous: 2}, // 1→2→1 between two polls
		{Ref: config.EnvLayer("prod"), Version: 1, At: at.Add(time.Minute)},
		{Ref: config.ClusterLayer("a"), Version: 2, At: at.Add(time.Minute), Cluster: rec("prod")},
	})
	changes := Diff(old, cur, at)
	var got []string
	for _, c := range changes {
		got = append(got, c.Ref.String())
	}
	if want := []string{"env/dev", "env/prod", "cluster/a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	a := changes[2]
	if a.From != 1 || len(a.Clusters) != 1 || a.Clusters[0].Record.Environment != "prod" || len(a.Before) != 1 || a.Before[0].Record.Environment != "dev" {
		t.Errorf("cluster/a change %+v: want the record before (dev) and after (prod)", a)
	}
	if len(changes[1].Clusters) != 1 || changes[0].Clusters != nil {
		t.Errorf("affected clusters: env/prod %v, env/dev %v", changes[1].Clusters, changes[0].Clusters)
	}
}
