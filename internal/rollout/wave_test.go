package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func members() []Member {
	return []Member{
		{Name: "prod-us1", Environment: "prod", Labels: map[string]string{"tier": "edge"}},
		{Name: "dev-a", Environment: "dev", Labels: map[string]string{"tier": "canary"}},
		{Name: "prod-eu1", Environment: "prod"},
		{Name: "prod-eu2", Environment: "prod"},
		{Name: "dev-b", Environment: "dev"},
	}
}

func TestPlanTakesEachClusterOnceInWaveOrder(t *testing.T) {
	s, err := ParseStrategy([]byte(`
name: fleet
waves:
- name: canary
  labelSelector: tier=canary
  bake: 10s
- name: eu-half
  namePattern: "prod-eu*"
  percent: 50
  maxFailures: 1
- name: dev
  environment: dev
- name: rest
  namePattern: "nothing-*"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Plan(members())
	want := [][]string{{"dev-a"}, {"prod-eu1"}, {"dev-b"}, {"prod-eu2", "prod-us1"}}
	for i, w := range got {
		if !slices.Equal(w.Clusters, want[i]) {
			t.Errorf("wave %d (%s): %v, want %v", i, w.Name, w.Clusters, want[i])
		}
	}
	if got[0].Bake != 10*time.Second || got[1].MaxFailures != 1 {
		t.Errorf("bake/maxFailures not carried: %+v", got[:2])
	}
}

func TestChooseTheClosestStrategy(t *testing.T) {
	strats := []Strategy{
		{Name: "default", Waves: []Wave{{Name: "all"}}},
		{Name: "envs", Layers: []string{"env/*"}, Waves: []Wave{{Name: "all"}}},
		{Name: "prod", Layers: []string{"env/prod"}, Waves: []Wave{{Name: "all"}}},
	}
	for _, tc := range []struct {
		ref       config.LayerRef
		name      string
		allAtOnce bool
		want      string
	}{
		{config.EnvLayer("prod"), "", false, "prod"},
		{config.EnvLayer("dev"), "", false, "envs"},
		{config.GlobalLayer, "", false, "default"},
		{config.GlobalLayer, "prod", false, "prod"},
		{config.GlobalLayer, "", true, ""},
		{config.ClusterLayer("a"), "", false, ""},
	} {
		s, err := Choose(strats, tc.ref, tc.name, tc.allAtOnce)
		got := ""
		if s != nil {
			got = s.Name
		}
		if err != nil || got != tc.want {
			t.Errorf("%s name=%q allAtOnce=%v: %q %v, want %q", tc.ref, tc.name, tc.allAtOnce, got, err, tc.want)
		}
	}
	if _, err := Choose(strats, config.GlobalLayer, "nope", false); err == nil || !strings.Contains(err.Error(), "default, envs, prod") {
		t.Errorf("unknown strategy: %v", err)
	}
	if s, err := Choose(nil, config.GlobalLayer, "", false); s != nil || err != nil {
		t.Errorf("no strategies: %v %v, want all at once", s, err)
	}
}

func TestServedFollowsTheWaves(t *testing.T) {
	s := Strategy{Name: "two", Waves: []Wave{{Name: "first", NamePattern: "a"}, {Name: "rest"}}}
	at := time.Unix(1000, 0)
	r := New(config.EnvLayer("dev"), &s, []Member{{Name: "a"}, {Name: "b"}}, 3, 4, "trace", "alice", at)
	served := func() string {
		return strings.Join([]string{itoa(r.Index().Served("a")), itoa(r.Index().Served("b")), itoa(r.Index().Served("new"))}, ",")
	}
	if got := served(); got != "4,3,3" {
		t.Fatalf("wave 1: %s", got)
	}
	if r.Advance(at, "serve") || served() != "4,4,4" {
		t.Fatalf("wave 2: %s", served())
	}
	if err := r.Pause(at, "bob", ""); err != nil || served() != "4,4,4" {
		t.Fatalf("paused: %s %v", served(), err)
	}
	if err := r.Pause(at, "bob", ""); err == nil {
		t.Fatal("paused twice")
	}
	if err := r.Abort(at, "bob", "no"); err != nil || served() != "3,3,3" {
		t.Fatalf("aborted: %s %v", served(), err)
	}
	if !r.Live(4, "trace") || r.Live(4, "other") || r.Live(5, "trace") {
		t.Fatal("Live must tie the rollout to its head move")
	}
	r.RolledBack(at, "bob", "")
	if r.Live(4, "trace") {
		t.Fatal("a rolled-back rollout is not live")
	}
}

func itoa(n int) string { return string(rune('0' + n)) }
