package ops

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// registryState is global at 2 rolling out over 1 in two waves (prod-eu1 first), env/prod at 1,
// and clusters prod-eu1 and prod-us1, with the global rollout in state s.
func registryState(t *testing.T, s rollout.State) store.RegistryState {
	t.Helper()
	strat, err := rollout.ParseStrategy([]byte("name: s\nwaves:\n- {name: canary, namePattern: prod-eu1}\n- {name: rest}\n"))
	if err != nil {
		t.Fatal(err)
	}
	members := []rollout.Member{{Name: "prod-eu1", Environment: "prod"}, {Name: "prod-us1", Environment: "prod"}}
	r := rollout.New(config.GlobalLayer, &strat, members, 1, 2, "t-global-2", "alice", time.Now())
	r.State = s
	rec := func(name string) *config.Cluster {
		return &config.Cluster{Name: name, Environment: "prod", Region: "eu-west-1"}
	}
	return store.RegistryState{
		Heads: []store.Head{
			{Ref: config.GlobalLayer, Version: 2, TraceID: "t-global-2"},
			{Ref: config.EnvLayer("prod"), Version: 1},
			{Ref: config.ClusterLayer("prod-eu1"), Version: 3, Cluster: rec("prod-eu1")},
			{Ref: config.ClusterLayer("prod-us1"), Version: 1, Cluster: rec("prod-us1")},
		},
		Rollouts: []rollout.Rollout{r},
	}
}

func mixes(inv *registry.Inventory, ch change, cluster string) []string {
	var out []string
	for _, c := range inv.Clusters {
		if c.Name == cluster {
			for _, m := range servable(inv, ch, c) {
				out = append(out, m.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// Issue 18 §3: a change is validated in every configVersion the generator may serve after it.
func TestServableConfigVersions(t *testing.T) {
	const rolling = " while the rollout of global is in wave 1/2 (stable 1, target 2)"
	envPublish := change{layer: config.Layer{Ref: config.EnvLayer("prod")}}
	for _, tt := range []struct {
		name  string
		state rollout.State
		ch    change
		want  []string
	}{
		{"cluster publish, global progressing", rollout.Progressing, change{layer: config.Layer{Ref: config.ClusterLayer("prod-us1")}},
			[]string{"g1.e1.c(new)" + rolling, "g2.e1.c(new)" + rolling}},
		{"env publish, global progressing", rollout.Progressing, envPublish,
			[]string{"g1.e(new).c1" + rolling, "g2.e(new).c1" + rolling}},
		{"env publish, global paused", rollout.Paused, envPublish,
			[]string{"g1.e(new).c1 while the rollout of global is paused in wave 1/2 (stable 1, target 2)", "g2.e(new).c1 while the rollout of global is paused in wave 1/2 (stable 1, target 2)"}},
		{"env publish, global halted: only stable", rollout.Halted, envPublish,
			[]string{"g1.e(new).c1 while the rollout of global is halted (stable 1 served)"}},
		{"env publish, global completed: the head", rollout.Completed, envPublish, []string{"g2.e(new).c1"}},
		{"staged env publish over 0, global progressing", rollout.Progressing, change{layer: config.Layer{Ref: config.EnvLayer("prod")}, staged: true, stable: 0},
			[]string{
				"g1.e(new).c1" + rolling, "g1.e0.c1" + rolling + " and the new rollout of env/prod has not reached it (stable 0)",
				"g2.e(new).c1" + rolling, "g2.e0.c1" + rolling + " and the new rollout of env/prod has not reached it (stable 0)",
			}},
		{"rollback of global: the rollout is superseded", rollout.Progressing, change{layer: config.Layer{Ref: config.GlobalLayer, Version: 1}, known: true},
			[]string{"g1.e1.c1"}},
		{"rollback of env to 0", rollout.Completed, change{layer: config.Layer{Ref: config.EnvLayer("prod")}, known: true}, []string{"g2.e0.c1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := registry.InventoryOf(registryState(t, tt.state))
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if got := mixes(inv, tt.ch, "prod-us1"); !slices.Equal(got, want) {
				t.Errorf("servable:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestRefusedErrorCountsClustersAndNamesTheConfigVersion(t *testing.T) {
	err := &RefusedError{Ref: config.GlobalLayer, Checked: 3, Problems: []ClusterProblem{
		{Cluster: "a", Served: "g(new).e1.c1", Err: errors.New("x")},
		{Cluster: "a", Served: "g(new).e2.c1 while the rollout of env/prod is in wave 1/2 (stable 1, target 2)", Err: errors.New("y")},
		{Cluster: "b", Err: errors.New("z")},
	}}
	want := "refused: global would break 2 of the 3 clusters it affects; nothing was changed\n" +
		"cluster a, served g(new).e1.c1:\n  x\n" +
		"cluster a, served g(new).e2.c1 while the rollout of env/prod is in wave 1/2 (stable 1, target 2):\n  y\n" +
		"cluster b:\n  z"
	if got := err.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
