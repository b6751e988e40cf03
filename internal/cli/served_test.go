package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// generatePinned runs generate as Argo CD does for an Application the plugin generator pinned
// to configVersion cv.
func generatePinned(t *testing.T, env cli.Env, cluster, cv string) result {
	t.Helper()
	params, _ := json.Marshal([]map[string]string{{"name": "cluster", "string": cluster}, {"name": "configVersion", "string": cv}})
	return run(t, argocdEnv(env, string(params)), "generate")
}

// everyServedRenders checks the invariant of issue 18: every configVersion the ApplicationSet
// generator serves renders through generate. It returns what each cluster is served.
func everyServedRenders(t *testing.T, env cli.Env, cfg store.Config, when string) map[string]string {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{}
	for _, c := range inv.Clusters {
		cv := c.Served.String()
		served[c.Name] = cv
		if r := generatePinned(t, env, c.Name, cv); r.code != 0 || r.stdout == "" {
			t.Errorf("%s: the generator serves %s %s, and generate of it exits %d:\n%s", when, c.Name, cv, r.code, r.stderr)
		}
	}
	return served
}

// clusterFile writes the layer of a cluster of environment env; extra is appended.
func clusterFile(t *testing.T, dir, name, env, extra string) string {
	t.Helper()
	file := filepath.Join(dir, name+".yaml")
	writeFile(t, file, "cluster: {environment: "+env+", region: eu-west-1, projects: [platform]}\nnamespaces:\n  - namespace: web-"+name+"\n"+extra)
	return file
}

// envFile writes env/<name> as the example env/dev layer with extra appended.
func envFile(t *testing.T, dir, name, extra string) string {
	t.Helper()
	file := filepath.Join(dir, "env-"+name+".yaml")
	writeFile(t, file, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), "layer: env/dev", "layer: env/"+name, 1)+extra)
	return file
}

func mustRun(t *testing.T, env cli.Env, args ...string) result {
	t.Helper()
	r := run(t, env, args...)
	if r.code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// Issue 18 §1: the first staged publish of a layer serves the clusters it has not reached
// version 0 of it (g1.e0.c1), and generate refused that pin because the layer has a published
// version. The same for a cluster registered after the publish, a cluster moved into the
// environment, and every cluster once the rollout is aborted. Whatever the generator serves
// must render; an abort of a first version moves the head back to 0.
func TestFirstStagedPublishServesRenderableVersions(t *testing.T) {
	env, cfg := tableEnv(t)
	dir := t.TempDir()
	mustRun(t, env, "table", "create")
	mustRun(t, env, "config", "publish", "-f", "../../examples/layers/global.yaml", "--layer", "global")
	for _, c := range []string{"qa-a", "qa-b"} {
		mustRun(t, env, "config", "publish", "-f", clusterFile(t, dir, c, "qa", ""), "--layer", "cluster/"+c)
	}
	strategy := filepath.Join(dir, "s.yaml")
	writeFile(t, strategy, "name: s\nlayers: [env/qa]\nwaves:\n  - {name: first, namePattern: qa-a}\n  - {name: rest}\n")
	mustRun(t, env, "rollout", "strategy", "put", "-f", strategy)

	r := mustRun(t, env, "config", "publish", "-f", envFile(t, dir, "qa", ""), "--layer", "env/qa")
	if !strings.Contains(r.stdout, "published env/qa version 1 (was 0)") {
		t.Fatalf("publish env/qa:\n%s", r.stdout)
	}
	served := everyServedRenders(t, env, cfg, "first staged publish")
	if served["qa-a"] != "g1.e1.c1" || served["qa-b"] != "g1.e0.c1" {
		t.Errorf("served %v, want qa-a the new version and qa-b version 0 of env/qa", served)
	}
	v := mustRun(t, env, "config", "validate", "--cluster", "qa-b")
	for _, want := range []string{"cluster qa-b: served g1.e0.c1 (env/qa rolling out: stable 0, target 1): valid", "cluster qa-b: heads g1.e1.c1: valid"} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("config validate lacks %q:\n%s", want, v.stdout)
		}
	}

	// A cluster registered after the publish is in the last wave: version 0 until it starts.
	mustRun(t, env, "config", "publish", "-f", clusterFile(t, dir, "qa-c", "qa", ""), "--layer", "cluster/qa-c")
	// A cluster moved into the environment likewise.
	mustRun(t, env, "config", "publish", "-f", clusterFile(t, dir, "mover", "dev", ""), "--layer", "cluster/mover")
	mustRun(t, env, "config", "publish", "-f", clusterFile(t, dir, "mover", "qa", ""), "--layer", "cluster/mover")
	served = everyServedRenders(t, env, cfg, "after a registration and a move")
	if served["qa-c"] != "g1.e0.c1" || served["mover"] != "g1.e0.c2" {
		t.Errorf("served %v, want qa-c and mover on version 0 of env/qa", served)
	}

	// Abort: every cluster is served version 0 again, and the head goes back to it.
	r = mustRun(t, env, "rollout", "abort", "--layer", "env/qa", "--actor", "bob", "-m", "not yet")
	if !strings.Contains(r.stdout, "rolled back env/qa from version 1 to 0 (no entries)") {
		t.Errorf("abort of a first version:\n%s", r.stdout)
	}
	served = everyServedRenders(t, env, cfg, "after the abort")
	for _, c := range []string{"qa-a", "qa-b", "qa-c"} {
		if served[c] != "g1.e0.c1" {
			t.Errorf("after the abort %s is served %s, want g1.e0.c1", c, served[c])
		}
	}
	if s := readStatus(t, env, "--layer", "env/qa"); s.Rollouts[0].State != "rolled-back" || s.Rollouts[0].Live || s.Rollouts[0].Head != 0 {
		t.Errorf("after the abort: %+v, want rolled back with the head at 0", s.Rollouts[0])
	}
	h := mustRun(t, env, "config", "history", "--layer", "env/qa")
	if audit := strings.Join(strings.Fields(h.stdout[strings.Index(h.stdout, "ACTION"):]), " "); !strings.Contains(audit, "rollback 1 0 bob") {
		t.Errorf("history lacks the rollback to 0:\n%s", h.stdout)
	}
	if g := mustRun(t, env, "config", "get", "--layer", "env/qa"); !strings.Contains(g.stdout, "version=0") || strings.Contains(g.stdout, "namespace") {
		t.Errorf("config get after the rollback to 0:\n%s", g.stdout)
	}
	for _, c := range []string{"qa-a", "qa-b"} {
		if g := run(t, argocdEnv(env, `[{"name":"cluster","string":"`+c+`"}]`), "generate"); g.code != 0 {
			t.Errorf("generate latest of %s after the rollback to 0: exit %d %s", c, g.code, g.stderr)
		}
	}
	// Every reader of the head copes with version 0.
	if l := mustRun(t, env, "clusters", "list"); strings.Count(l.stdout, "g1.e0.c1") != 3 {
		t.Errorf("clusters list after the rollback to 0:\n%s", l.stdout)
	}
	mustRun(t, env, "clusters", "status")
	mustRun(t, env, "rollout", "status")
	mustRun(t, env, "config", "export", "--dir", filepath.Join(dir, "export"))
	if d := mustRun(t, env, "config", "diff", "--layer", "env/qa", "--from", "1", "--to", "0"); !strings.Contains(d.stdout, "0 added, 0 changed, 8 removed") {
		t.Errorf("config diff 1 → 0:\n%s", d.stdout)
	}
	if d := mustRun(t, env, "config", "diff", "--cluster", "qa-a", "--from", "g1.e1.c1", "--to", "latest"); !strings.Contains(d.stdout, "g1.e1.c1 → g1.e0.c1") {
		t.Errorf("config diff of a cluster to latest:\n%s", d.stdout)
	}
	if v := mustRun(t, env, "config", "validate", "--cluster", "qa-a"); !strings.Contains(v.stdout, "cluster qa-a: served and heads g1.e0.c1: valid") {
		t.Errorf("config validate after the rollback to 0:\n%s", v.stdout)
	}
	if r := run(t, env, "rollout", "abort", "--layer", "env/qa"); r.code != 1 || !strings.Contains(r.stderr, "it was rolled back") {
		t.Errorf("a second abort: exit %d %s", r.code, r.stderr)
	}

	// The next publish is version 2 (numbers are never reused), staged over version 0 again.
	r = mustRun(t, env, "config", "publish", "-f", envFile(t, dir, "qa", ""), "--layer", "env/qa")
	if !strings.Contains(r.stdout, "published env/qa version 2 (was 0)") {
		t.Fatalf("publish after the rollback to 0:\n%s", r.stdout)
	}
	served = everyServedRenders(t, env, cfg, "second staged publish")
	if served["qa-a"] != "g1.e2.c1" || served["qa-b"] != "g1.e0.c1" {
		t.Errorf("served %v", served)
	}
	// Once no rollout serves version 0, a 0 pin of the published layer is refused again.
	mustRun(t, env, "config", "publish", "-f", envFile(t, dir, "qa", "clusterRoles:\n  - name: more\n    rules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}]\n"), "--layer", "env/qa", "--all-at-once")
	everyServedRenders(t, env, cfg, "all at once")
	assertFailedCleanly(t, generatePinned(t, env, "qa-b", "g1.e0.c1"), 1, "configVersion g1.e0.c1 pins env/qa to version 0 (no layer), but env/qa has published version 3")
}

// Issue 18 §3: publishes validated only the layer heads, while a live rollout serves the
// clusters it has not reached its stable version. A change that breaks such a configVersion
// is refused, naming the cluster and the configVersion; config validate checks what is served
// and the heads.
func TestPublishValidatesWhatLiveRolloutsServe(t *testing.T) {
	env, cfg := tableEnv(t)
	dir := t.TempDir()
	mustRun(t, env, "table", "create")
	mustRun(t, env, "config", "publish", "-f", "../../examples/layers/global.yaml", "--layer", "global")
	mustRun(t, env, "config", "publish", "-f", envFile(t, dir, "prod", ""), "--layer", "env/prod")
	for _, c := range []string{"prod-eu1", "prod-us1"} {
		mustRun(t, env, "config", "publish", "-f", clusterFile(t, dir, c, "prod", ""), "--layer", "cluster/"+c)
	}
	strategy := filepath.Join(dir, "s.yaml")
	writeFile(t, strategy, "name: s\nlayers: [global, env/prod]\nwaves:\n  - {name: canary, namePattern: prod-eu1}\n  - {name: rest}\n")
	mustRun(t, env, "rollout", "strategy", "put", "-f", strategy)

	// global version 2 adds the namespace newns; its rollout reaches prod-eu1 only.
	global2 := filepath.Join(dir, "global.yaml")
	writeFile(t, global2, strings.Replace(readFile(t, "../../examples/layers/global.yaml"), "namespaces:\n", "namespaces:\n  - namespace: newns\n", 1))
	mustRun(t, env, "config", "publish", "-f", global2, "--layer", "global")
	if served := everyServedRenders(t, env, cfg, "global rolling out"); served["prod-eu1"] != "g2.e1.c1" || served["prod-us1"] != "g1.e1.c1" {
		t.Fatalf("served %v", served)
	}

	patch := "patches:\n  - name: label-newns\n    target: {kind: Namespace, name: newns}\n    strategicMerge: {metadata: {labels: {tier: gold}}}\n"
	// A cluster-layer publish patching newns breaks prod-us1 as long as it is served global 1.
	r := run(t, env, "config", "publish", "-f", clusterFile(t, dir, "prod-us1", "prod", patch), "--layer", "cluster/prod-us1")
	if r.code != 1 || !strings.Contains(r.stderr, "cluster prod-us1, served g1.e1.c(new) while the rollout of global is in wave 1/2 (stable 1, target 2)") ||
		!strings.Contains(r.stderr, "label-newns") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("cluster publish during a global rollout: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The same patch in env/prod breaks every prod cluster on global 1.
	r = run(t, env, "config", "publish", "-f", envFile(t, dir, "prod", patch), "--layer", "env/prod")
	if r.code != 1 || !strings.Contains(r.stderr, "cluster prod-us1, served g1.e(new).c1 while the rollout of global is in wave 1/2 (stable 1, target 2)") ||
		!strings.Contains(r.stderr, "cluster prod-eu1, served g1.e(new).c1") {
		t.Errorf("env publish during a global rollout: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, l := range []string{"env/prod", "cluster/prod-us1"} {
		if g := mustRun(t, env, "config", "get", "--layer", l); !strings.Contains(g.stdout, "version=1") {
			t.Errorf("%s must not have changed:\n%s", l, g.stdout)
		}
	}

	// config validate: what is served and the heads, each named.
	v := mustRun(t, env, "config", "validate", "--cluster", "prod-us1")
	for _, want := range []string{"cluster prod-us1: served g1.e1.c1 (global rolling out: stable 1, target 2): valid", "cluster prod-us1: heads g2.e1.c1: valid"} {
		if !strings.Contains(v.stdout, want) {
			t.Errorf("config validate lacks %q:\n%s", want, v.stdout)
		}
	}

	// The reverse: env/prod rolls out version 2, which adds envns; a global publish patching
	// envns breaks the clusters still served env/prod 1.
	mustRun(t, env, "config", "publish", "-f", "../../examples/layers/global.yaml", "--layer", "global", "--all-at-once")
	env2 := filepath.Join(dir, "env-prod-2.yaml")
	writeFile(t, env2, strings.Replace(readFile(t, envFile(t, dir, "prod", "")), "namespaces:\n", "namespaces:\n  - namespace: envns\n", 1))
	mustRun(t, env, "config", "publish", "-f", env2, "--layer", "env/prod")
	global4 := filepath.Join(dir, "global4.yaml")
	writeFile(t, global4, readFile(t, "../../examples/layers/global.yaml")+strings.ReplaceAll(patch, "newns", "envns"))
	r = run(t, env, "config", "publish", "-f", global4, "--layer", "global")
	if r.code != 1 || !strings.Contains(r.stderr, "cluster prod-us1, served g(new).e1.c1 while the rollout of env/prod is in wave 1/2 (stable 1, target 2)") {
		t.Errorf("global publish during an env rollout: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	everyServedRenders(t, env, cfg, "after the refusals")
}
