package rollout

import (
	"slices"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// problems splits a ParseStrategy error into its lines.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseStrategyReportsEveryProblemAtOnce(t *testing.T) {
	_, err := ParseStrategy([]byte(`name: canary
unknownTop: 1
layers: env/prod
waves:
  - name: first
    bakeTime: 10s
    bake: 10
  - just-a-string
  - name: rest
    percent: 1.5
    maxFailures: "2"
    environment: 7
    labelSelector: 'tier in (a'
`))
	want := []string{
		"strategy canary: unknownTop: unknown field (known fields: name, description, layers, waves)",
		`strategy canary: layers: a list of layer patterns like [env/prod], not the string "env/prod"`,
		"strategy canary: wave 1 (first): bakeTime: unknown field (known fields: name, labelSelector, namePattern, environment, percent, bake, maxFailures)",
		`strategy canary: wave 1 (first): bake: the number 10 is not a duration; write it with a unit, like "10s" or "5m"`,
		`strategy canary: wave 2: a wave is a mapping of its fields (name, selectors, bake, maxFailures), not the string "just-a-string"`,
		"strategy canary: wave 3 (rest): percent: 1.5 is not a whole number",
		`strategy canary: wave 3 (rest): maxFailures: "2" is a string, not a number; write 2 without quotes`,
		`strategy canary: wave 3 (rest): environment: the number 7 is not a string; quote it: "7"`,
		"strategy canary: wave 3 (rest): labelSelector: unable to parse requirement: found '', expected: ',' or ')'",
	}
	if got := problems(err); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseStrategyWavesCountFromOne(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: s\nwaves:\n- name: a\n  labelSelector: 'tier in (a'\n", "strategy s: wave 1 (a): labelSelector: "},
		{"name: s\nwaves:\n- name: a\n  percent: 101\n", "strategy s: wave 1 (a): percent: 101 is not between 0 and 100"},
		{"name: s\nwaves:\n- name: a\n- name: a\n", "strategy s: wave 2 (a): name: another wave has this name"},
		{"name: s\nwaves:\n- name: a\n  bake: soon\n", `strategy s: wave 1 (a): bake: "soon" is not a duration (like "10s" or "5m")`},
		{"name: s\nwaves:\n- name: a\n  namePattern: '['\n", `strategy s: wave 1 (a): namePattern: "[": syntax error in pattern`},
		{"name: s\nwaves:\n- name: a\n  environment: Prod\n", "strategy s: wave 1 (a): environment: "},
		{"name: s\nwaves:\n- bake: 1s\n", "strategy s: wave 1: name: required"},
		{"name: s\nwaves: []\n", "strategy s: waves: at least one wave is needed"},
		{"name: s\nlayers: [cluster/x]\nwaves:\n- name: a\n", "never rolled out in waves"},
		{"name: s\nwaves:\n- name: a\n  bakeTime: 1s\n", "strategy s: wave 1 (a): bakeTime: unknown field"},
		{"name: S\nwaves:\n- name: a\n", `strategy "S": name: `},
		{"waves:\n- name: a\n", "strategy: name: required"},
		{"name: s\nname: t\nwaves:\n- name: a\n", "strategy s: name: given twice (lines 1 and 2)"},
		{"- name: s\n", "strategy: a strategy is a mapping with name, layers and waves, not a list"},
	} {
		_, err := ParseStrategy([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
}

func TestParseStrategyRefusesSeveralDocuments(t *testing.T) {
	_, err := ParseStrategy([]byte("name: a\nwaves:\n- name: all\n---\nname: b\nwaves:\n- name: all\n"))
	want := "the file holds 2 strategies (YAML documents at lines 1 and 5); a strategy file holds one: put each in its own file"
	if err == nil || err.Error() != want {
		t.Errorf("two documents: %v, want %q", err, want)
	}
	// A leading or trailing "---" and comments are not documents.
	if s, err := ParseStrategy([]byte("# prod\n---\nname: a\nwaves:\n- name: all\n---\n# end\n")); err != nil || s.Name != "a" {
		t.Errorf("one document between separators: %+v %v", s, err)
	}
	for _, empty := range []string{"", "  \n", "# nothing\n---\n"} {
		if _, err := ParseStrategy([]byte(empty)); err == nil || !strings.Contains(err.Error(), "the strategy is empty") {
			t.Errorf("%q: %v, want empty", empty, err)
		}
	}
}

func TestParseStrategySyntaxErrorNamesTheLine(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		line string
	}{
		{"name: s\nwaves:\n  - name: a\n   bake: 10s\n", "line 4: "},
		{"name: s\nwaves:\n  - name: a\n\tbake: 10s\n", "line 4: "},
		{"name: s\nwaves:\n  - name: \"a\n    bake: 10s\n", "line 3: "},
		{"name: s\nwaves:\n  - name: a: b\n    bake: 10s\n", "line 3: "},
		{"name: s\nwaves:\n  - name: a\n    bake: [10s\n  - name: b\n", "line 4: "},
		{"name: s\nwaves:\n  - name: a\n  bake: 10s\n    percent: 3\n", "line 4: "},
		{"name: s\nlayers: [env/qa,\n  env/dev]\ndescription: x\nwaves:\n  - {name: a, bake: 10s\n  - name: b\n", "line 6: "},
	} {
		_, err := ParseStrategy([]byte(tc.yaml))
		if err == nil || !strings.HasPrefix(err.Error(), tc.line) {
			t.Errorf("%q: %v, want it to start with %q", tc.yaml, err, tc.line)
		}
	}
}

func TestParseStrategyReadsJSON(t *testing.T) {
	s, err := ParseStrategy([]byte(`{"name": "j", "description": "a\/b", "layers": ["env/prod"], "waves": [{"name": "all", "bake": "1m", "percent": 50}]}`))
	if err != nil || s.Description != "a/b" || s.Waves[0].Percent != 50 || s.Waves[0].Bake != Duration(60e9) {
		t.Errorf("JSON: %+v %v", s, err)
	}
	_, err = ParseStrategy([]byte(`{"name": "j", "waves": [{"name": "all", "percent": 1.5, "bakeTime": "1m"}]}`))
	if got := problems(err); len(got) != 2 || !strings.HasPrefix(got[0], "strategy j: wave 1 (all): percent: 1.5 is not a whole number") || !strings.HasPrefix(got[1], "strategy j: wave 1 (all): bakeTime: unknown field") {
		t.Errorf("JSON problems: %q", got)
	}
	// What the store writes reads back.
	if _, err := ParseStrategy([]byte(`{"name":"prod-waves","layers":["env/prod"],"waves":[{"name":"canary","namePattern":"prod-eu1","bake":"10s"},{"name":"rest","bake":"10s","maxFailures":1}]}`)); err != nil {
		t.Errorf("stored body: %v", err)
	}
}

func TestParseStrategyFollowsAnchorsAndMerges(t *testing.T) {
	s, err := ParseStrategy([]byte("name: m\nwaves:\n- &first {name: a, bake: 5m, maxFailures: 1}\n- <<: *first\n  name: b\n"))
	if err != nil || len(s.Waves) != 2 || s.Waves[1].Name != "b" || s.Waves[1].MaxFailures != 1 || s.Waves[1].Bake != Duration(300e9) {
		t.Errorf("merge: %+v %v", s, err)
	}
}

func TestResolveSaysWhichStrategyAndWhy(t *testing.T) {
	strats := []Strategy{
		{Name: "default", Waves: []Wave{{Name: "all"}}},
		{Name: "envs", Layers: []string{"env/*"}, Waves: []Wave{{Name: "all"}}},
		{Name: "prod-b", Layers: []string{"env/prod"}, Waves: []Wave{{Name: "all"}}},
		{Name: "prod-a", Layers: []string{"env/prod"}, Waves: []Wave{{Name: "all"}}},
	}
	for _, tc := range []struct {
		ref           config.LayerRef
		want, pattern string
		tied          []string
	}{
		{config.EnvLayer("prod"), "prod-a", "env/prod", []string{"prod-b"}},
		{config.EnvLayer("dev"), "envs", "env/*", nil},
		{config.GlobalLayer, "default", "default", nil},
	} {
		u := Resolve(strats, tc.ref)
		if u.Strategy == nil || u.Strategy.Name != tc.want || u.Pattern != tc.pattern || !slices.Equal(u.Tied, tc.tied) {
			t.Errorf("%s: %+v, want %s by %s tied %v", tc.ref, u, tc.want, tc.pattern, tc.tied)
		}
	}
	if u := Resolve(strats[1:2], config.GlobalLayer); u.Strategy != nil {
		t.Errorf("no strategy for global: %+v", u)
	}
}

func TestCheckScopeRefusesAnEnvironmentNoListedLayerReaches(t *testing.T) {
	s, err := ParseStrategy([]byte("name: qa\nlayers: [env/qa, env/dev]\nwaves:\n- name: canary\n  environment: prod\n- name: rest\n  environment: qa\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "strategy qa: wave 1 (canary): environment: prod is never in scope: the layers the strategy lists (env/qa, env/dev) reach only environments qa, dev"
	if err := s.CheckScope(); err == nil || err.Error() != want {
		t.Errorf("CheckScope: %v, want %q", err, want)
	}
	for _, layers := range []string{"[global]", "['*']", "['env/*']", "[]"} {
		s, err := ParseStrategy([]byte("name: any\nlayers: " + layers + "\nwaves:\n- name: canary\n  environment: prod\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckScope(); err != nil {
			t.Errorf("layers %s reach every environment: %v", layers, err)
		}
	}
}

func TestWarningsNameTheWavesThatMatchNoCluster(t *testing.T) {
	s, err := ParseStrategy([]byte(`name: fleet
layers: ['*']
waves:
- name: canary
  labelSelector: tier=canary
- name: region
  labelSelector: region in (eu-west-1)
- name: typo
  namePattern: "prdo-*"
- name: nowhere
  environment: staging
- name: both
  environment: dev
  namePattern: "prod-*"
- name: rest
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"strategy fleet: wave 2 (region): labelSelector: no registered cluster has the label region",
		`strategy fleet: wave 3 (typo): namePattern: no registered cluster matches "prdo-*"`,
		"strategy fleet: wave 4 (nowhere): environment: no registered cluster is in environment staging",
		"strategy fleet: wave 5 (both): no registered cluster matches all its selectors (namePattern prod-*, environment dev)",
	}
	if got := s.Warnings(members()); !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A strategy for env/prod looks only at prod's clusters.
	p := Strategy{Name: "p", Layers: []string{"env/prod"}, Waves: []Wave{{Name: "canary", LabelSelector: "tier=canary"}, {Name: "rest"}}}
	if got := p.Warnings(members()); !slices.Equal(got, []string{"strategy p: wave 1 (canary): labelSelector: no registered cluster of env/prod matches tier=canary"}) {
		t.Errorf("env/prod warnings: %q", got)
	}
	if got := p.Warnings(nil); !slices.Equal(got, []string{"strategy p: no registered cluster of env/prod yet: its waves take clusters once they are registered"}) {
		t.Errorf("no clusters: %q", got)
	}
}

func TestWhyEmpty(t *testing.T) {
	s := Strategy{Name: "s", Waves: []Wave{
		{Name: "prod", Environment: "prod"},
		{Name: "eu", NamePattern: "dev-eu*"},
		{Name: "dev", Environment: "dev"},
		{Name: "rest"},
	}}
	dev := []Member{{Name: "dev-a", Environment: "dev"}, {Name: "dev-b", Environment: "dev"}}
	plan := s.Plan(dev)
	for i, want := range []string{
		"its environment prod is outside env/dev, so it never takes a cluster of env/dev",
		`namePattern: none of the 2 clusters env/dev affects matches "dev-eu*"`,
		"",
		"earlier waves took every cluster",
	} {
		got := ""
		if len(plan[i].Clusters) == 0 {
			got = s.WhyEmpty(config.EnvLayer("dev"), i, dev)
		}
		if got != want {
			t.Errorf("wave %d: %q, want %q", i+1, got, want)
		}
	}
}
