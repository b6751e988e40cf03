package cli_test

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// putStrategy writes a strategy file and runs rollout strategy put on it.
func putStrategy(t *testing.T, env cli.Env, content string) result {
	t.Helper()
	file := t.TempDir() + "/strategy.yaml"
	writeFile(t, file, content)
	return run(t, env, "rollout", "strategy", "put", "-f", file, "--actor", "alice")
}

// TestStrategyPutReadsStrictly: every problem of a strategy file at once, naming the wave
// (from 1) and the field; a file of several strategies and a syntax error are refused with
// the line; nothing is stored.
func TestStrategyPutReadsStrictly(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	r := putStrategy(t, env, `name: canary
unknownTop: true
waves:
  - name: first
  - name: early
  - name: rest
    percent: 1.5
`)
	if r.code != 1 || !strings.Contains(r.stderr, "strategy canary: unknownTop: unknown field") ||
		!strings.Contains(r.stderr, "strategy canary: wave 3 (rest): percent: 1.5 is not a whole number") ||
		!strings.Contains(r.stderr, "nothing was stored") || strings.Contains(r.stderr, "json:") {
		t.Errorf("every problem at once: exit %d\n%s", r.code, r.stderr)
	}
	r = putStrategy(t, env, "name: a\nwaves:\n  - name: all\n---\nname: b\nwaves:\n  - name: all\n")
	if r.code != 1 || !strings.Contains(r.stderr, "the file holds 2 strategies (YAML documents at lines 1 and 5); a strategy file holds one: put each in its own file; nothing was stored") {
		t.Errorf("two documents: exit %d\n%s", r.code, r.stderr)
	}
	r = putStrategy(t, env, "name: a\nwaves:\n  - name: first\n   bake: 10s\n")
	if r.code != 1 || !strings.Contains(r.stderr, "line 4: did not find expected '-' indicator") {
		t.Errorf("syntax error: exit %d\n%s", r.code, r.stderr)
	}
	// A wave whose environment no listed layer reaches is refused.
	r = putStrategy(t, env, "name: qa\nlayers: [env/qa]\nwaves:\n  - name: canary\n    environment: prod\n  - name: rest\n")
	if r.code != 1 || !strings.Contains(r.stderr, "strategy qa: wave 1 (canary): environment: prod is never in scope: the layers the strategy lists (env/qa) reach only environment qa") {
		t.Errorf("environment out of scope: exit %d\n%s", r.code, r.stderr)
	}
	if l := run(t, env, "rollout", "strategy", "list"); !strings.Contains(l.stdout, "no rollout strategies") {
		t.Errorf("a refused strategy must not be stored:\n%s", l.stdout)
	}
}

// TestStrategyPutSaysWhichStrategyEachLayerUses: after put and delete, every published global
// and environment layer with the strategy it uses and why, and warnings when the new strategy
// takes a layer over or is passed over.
func TestStrategyPutSaysWhichStrategyEachLayerUses(t *testing.T) {
	env, _ := tableEnv(t)
	threeDevClusters(t, env) // global, env/dev; dev-a, dev-b, dev-c in dev

	r := putStrategy(t, env, "name: default\nwaves:\n  - name: all\n")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("put default: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"LAYER      STRATEGY  WHY\n",
		"global     default   the default: no other strategy lists global (was: all at once)\n",
		"env/dev    default   the default: no other strategy lists env/dev (was: all at once)\n",
		"env/<new>  default   the default: no other strategy lists env/* or * (was: all at once)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("put default lacks %q:\n%s", want, r.stdout)
		}
	}

	// A strategy that lists env/dev takes it from the default: expected, no warning.
	r = putStrategy(t, env, "name: dev-waves\nlayers: [env/dev]\nwaves:\n  - name: all\n")
	if r.code != 0 || !strings.Contains(r.stdout, "env/dev  dev-waves  lists env/dev (was: default)\n") || r.stderr != "" {
		t.Errorf("put dev-waves: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "env/<new>") {
		t.Errorf("a strategy for env/dev only says nothing of new environments:\n%s", r.stdout)
	}

	// Two strategies list env/dev: the first name wins, the other is passed over.
	r = putStrategy(t, env, "name: zzz\nlayers: [env/dev]\nwaves:\n  - name: all\n")
	if r.code != 0 || !strings.Contains(r.stdout, "env/dev  dev-waves  lists env/dev (before zzz, first in name order)\n") ||
		!strings.Contains(r.stderr, "warning: strategy zzz lists env/dev, but env/dev keeps strategy dev-waves: both list it and dev-waves comes first in name order\n") {
		t.Errorf("put zzz: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = putStrategy(t, env, "name: aaa\nlayers: [env/dev]\nwaves:\n  - name: all\n")
	if r.code != 0 || !strings.Contains(r.stdout, "env/dev  aaa       lists env/dev (before dev-waves, zzz, first in name order) (was: dev-waves)\n") ||
		!strings.Contains(r.stderr, "warning: strategy aaa takes env/dev over from strategy dev-waves: both list env/dev and aaa comes first in name order\n") {
		t.Errorf("put aaa: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// env/* takes a new environment from the default, and "*" takes nothing from it.
	r = putStrategy(t, env, "name: envs\nlayers: ['env/*']\nwaves:\n  - name: all\n")
	if r.code != 0 || !strings.Contains(r.stdout, "env/<new>  envs      lists env/* (was: default)\n") || r.stderr != "" {
		t.Errorf("put envs: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = putStrategy(t, env, "name: any\nlayers: ['*']\nwaves:\n  - name: all\n")
	if r.code != 0 || !strings.Contains(r.stdout, "global     any       lists * (was: default)\n") || !strings.Contains(r.stdout, "env/<new>  envs      lists env/*\n") || r.stderr != "" {
		t.Errorf("put any: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, env, "rollout", "strategy", "delete", "aaa")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted strategy aaa") || !strings.Contains(r.stdout, "env/dev  dev-waves  lists env/dev (before zzz, first in name order) (was: aaa)\n") {
		t.Errorf("delete: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestStrategyPutWarnsOfWavesThatMatchNoCluster: put stores the strategy (clusters may be
// registered later) and warns of each wave no registered cluster matches.
func TestStrategyPutWarnsOfWavesThatMatchNoCluster(t *testing.T) {
	env, _ := tableEnv(t)
	threeDevClusters(t, env)
	r := putStrategy(t, env, `name: fleet
layers: [global]
waves:
  - name: by-region
    labelSelector: region=eu
  - name: typo
    namePattern: "dve-*"
  - name: staging
    environment: staging
  - name: rest
`)
	for _, want := range []string{
		"warning: strategy fleet: wave 1 (by-region): labelSelector: no registered cluster has the label region\n",
		"warning: strategy fleet: wave 2 (typo): namePattern: no registered cluster matches \"dve-*\"\n",
		"warning: strategy fleet: wave 3 (staging): environment: no registered cluster is in environment staging\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("put lacks the warning %q:\n%s", want, r.stderr)
		}
	}
	if r.code != 0 || !strings.HasPrefix(r.stdout, "stored strategy fleet") {
		t.Errorf("put with warnings stores: %d\n%s", r.code, r.stdout)
	}
}

// TestPublishPlanSaysWhichWavesAreSkipped: the plan of a publish says which waves take no
// cluster (the driver skips them at once) and why.
func TestPublishPlanSaysWhichWavesAreSkipped(t *testing.T) {
	env, _ := tableEnv(t)
	threeDevClusters(t, env)
	if r := putStrategy(t, env, "name: prod-first\nwaves:\n  - name: prod\n    environment: prod\n  - name: eu\n    namePattern: dev-eu*\n  - name: rest\n"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	r := run(t, env, "config", "publish", "-f", devChange(t, "6"), "--layer", "env/dev", "--strategy", "prod-first", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, `rollout (dry run): strategy "prod-first", 3 waves: 1 prod (bake 0s, maxFailures 0): no clusters, skipped at once; 2 eu (bake 0s, maxFailures 0): no clusters, skipped at once; 3 rest (bake 0s, maxFailures 0): dev-a, dev-b, dev-c`) {
		t.Errorf("plan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"warning: wave 1 (prod) takes no cluster: its environment prod is outside env/dev, so it never takes a cluster of env/dev\n",
		"warning: wave 2 (eu) takes no cluster: namePattern: none of the 3 clusters env/dev affects matches \"dev-eu*\"\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("plan lacks the warning %q:\n%s", want, r.stderr)
		}
	}
}

// TestEmptyNamesAreUsageErrors: an explicitly empty --strategy, or an empty strategy name, is
// a usage error (exit 2), not a store failure or a silent default.
func TestEmptyNamesAreUsageErrors(t *testing.T) {
	env, _ := tableEnv(t)
	threeDevClusters(t, env)
	if r := run(t, env, "config", "publish", "-f", devChange(t, "6"), "--layer", "env/dev", "--strategy", ""); r.code != 2 || !strings.Contains(r.stderr, "--strategy is empty") {
		t.Errorf("--strategy \"\": exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := run(t, env, "config", "get", "--layer", "env/dev"); !strings.Contains(g.stdout, "version=1") {
		t.Errorf("nothing must have been published:\n%s", g.stdout)
	}
	if r := run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--strategy", " "); r.code != 2 {
		t.Errorf("drafts publish --strategy \" \": exit %d\n%s", r.code, r.stderr)
	}
	for _, cmd := range []string{"delete", "get"} {
		if r := run(t, env, "rollout", "strategy", cmd, ""); r.code != 2 || !strings.Contains(r.stderr, "the strategy name is empty") {
			t.Errorf("strategy %s \"\": exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
}

// TestStrategyListShowsDescriptionsAndBoundsWaves: list has a DESCRIPTION column, and its
// WAVES column names at most three waves.
func TestStrategyListShowsDescriptionsAndBoundsWaves(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	if r := putStrategy(t, env, "name: five\ndescription: canary first, then the rest of prod\nlayers: [env/prod]\nwaves:\n"+
		"  - {name: canary, namePattern: prod-eu1, bake: 10m}\n  - {name: early, percent: 10}\n  - {name: europe, labelSelector: 'region in (eu-west-1)'}\n  - {name: half, percent: 50}\n  - {name: rest}\n"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	l := run(t, env, "rollout", "strategy", "list")
	lines := strings.Split(strings.TrimSpace(l.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME  LAYERS    DESCRIPTION                          WAVES") ||
		!strings.HasPrefix(lines[1], "five  env/prod  canary first, then the rest of prod  5: canary, early, europe, …  ") {
		t.Errorf("list:\n%s", l.stdout)
	}
}
