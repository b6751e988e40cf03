package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestClustersStatus registers three prod clusters and a dev one, stores a "default"
// strategy of two waves (prod-a first, then the rest), publishes env/prod version 2 — a
// rollout at its first wave — and records what serve would have observed and a last known
// good version. clusters status shows wave-1 and wave-2 clusters served different versions,
// what their Applications synced, the last known good version and the wave of each.
func TestClustersStatus(t *testing.T) {
	env, cfg := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	publish := func(layer, body string) result {
		t.Helper()
		file := filepath.Join(dir, strings.ReplaceAll(layer, "/", "-")+".yaml")
		writeFile(t, file, body)
		r := run(t, env, "config", "publish", "-f", file, "--layer", layer, "-m", "test", "--actor", "tester")
		if r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s%s", layer, r.code, r.stdout, r.stderr)
		}
		return r
	}
	publish("global", "namespaces:\n  - namespace: team-a\n")
	publish("env/prod", "namespaces:\n  - namespace: prod-only\n")
	publish("env/dev", "namespaces:\n  - namespace: dev-only\n")
	for _, c := range []string{"prod-a", "prod-b", "prod-c"} {
		publish("cluster/"+c, "cluster: {environment: prod, region: eu-west-1}\n")
	}
	publish("cluster/dev-a", "cluster: {environment: dev, region: eu-west-1}\n")

	ctx := context.Background()
	st, err := store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	strategy, err := rollout.ParseStrategy([]byte("name: default\nwaves:\n  - {name: canary, namePattern: prod-a, bake: 10s}\n  - {name: rest}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutStrategy(ctx, strategy, "tester"); err != nil {
		t.Fatal(err)
	}
	publish("env/prod", "namespaces:\n  - namespace: prod-only\n    labels: {tier: gold}\n")

	seen := time.Now().Add(-3 * time.Minute)
	if err := st.PutObservations(ctx, []store.Observation{
		{Cluster: "prod-a", Applications: 2, Sync: "Synced", Health: "Healthy", SyncedVersion: "g1.e2.c1", At: seen, Replica: "serve-0"},
		{Cluster: "prod-b", Applications: 1, Sync: "OutOfSync", Health: "Degraded", At: seen, Replica: "serve-0"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "prod-b", Version: config.ConfigVersion{Global: 1, Env: 1, Cluster: 1}, At: seen}); err != nil {
		t.Fatal(err)
	}

	r := run(t, env, "clusters", "status")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("clusters status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := [][]string{
		{"CLUSTER", "ENV", "SERVED", "SYNCED", "SYNC", "HEALTH", "APPS", "OBSERVED", "LAST", "KNOWN", "GOOD"},
		{"dev-a", "dev", "g1.e1.c1", "not", "observed", "-", "-", "-", "-", "-"},
		{"prod-a", "prod", "g1.e2.c1", "g1.e2.c1", "Synced", "Healthy", "2", "3m", "ago", "-"},
		{"rollout", "env/prod", "wave", "1/2", "canary", "(reached)"},
		{"prod-b", "prod", "g1.e1.c1", "-", "OutOfSync", "Degraded", "1", "3m", "ago", "g1.e1.c1"},
		{"heads", "g1.e2.c1"},
		{"rollout", "env/prod", "wave", "2/2", "rest", "(waiting)"},
		{"prod-c", "prod", "g1.e1.c1", "not", "observed", "-", "-", "-", "-", "-"},
		{"heads", "g1.e2.c1"},
		{"rollout", "env/prod", "wave", "2/2", "rest", "(waiting)"},
	}
	if len(lines) != len(want) {
		t.Fatalf("clusters status printed %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i, l := range lines {
		if got := strings.Fields(l); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d:\ngot  %q\nwant %q\n%s", i+1, got, want[i], r.stdout)
		}
		if len(l) > 100 {
			t.Errorf("line %d is %d columns wide, more than 100:\n%s", i+1, len(l), l)
		}
	}
	// The detail lines sit under the cluster they belong to, indented.
	if !strings.Contains(r.stdout, "\n  heads g1.e2.c1\n  rollout env/prod wave 2/2 rest (waiting)\nprod-c ") {
		t.Errorf("the details of prod-b are not indented under it:\n%s", r.stdout)
	}

	r = run(t, env, "clusters", "status", "-o", "json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("clusters status -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var doc []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-o json is not a JSON list: %v\n%s", err, r.stdout)
	}
	if len(doc) != 4 {
		t.Fatalf("%d clusters, want 4:\n%s", len(doc), r.stdout)
	}
	byName := map[string]map[string]any{}
	for _, c := range doc {
		for _, k := range []string{"cluster", "environment", "served", "heads", "observed", "lastKnownGood", "rollouts"} {
			if _, ok := c[k]; !ok {
				t.Errorf("cluster %v has no %q field (the shape is stable: absent values are null):\n%s", c["cluster"], k, r.stdout)
			}
		}
		byName[c["cluster"].(string)] = c
	}
	a, b, c, dev := byName["prod-a"], byName["prod-b"], byName["prod-c"], byName["dev-a"]
	if a["served"] != "g1.e2.c1" || a["heads"] != "g1.e2.c1" || b["served"] != "g1.e1.c1" || b["heads"] != "g1.e2.c1" || c["served"] != "g1.e1.c1" {
		t.Errorf("served/heads: prod-a %v/%v, prod-b %v/%v, prod-c %v; want the wave-1 cluster on e2, the others served e1 with heads e2",
			a["served"], a["heads"], b["served"], b["heads"], c["served"])
	}
	obsA, _ := a["observed"].(map[string]any)
	if obsA["syncedVersion"] != "g1.e2.c1" || obsA["sync"] != "Synced" || obsA["health"] != "Healthy" || obsA["applications"] != float64(2) {
		t.Errorf("prod-a observed: %v", a["observed"])
	}
	if age, _ := obsA["ageSeconds"].(float64); age < 170 || age > 3600 {
		t.Errorf("prod-a observed %v seconds ago, want about 180", obsA["ageSeconds"])
	}
	obsB, _ := b["observed"].(map[string]any)
	if obsB["syncedVersion"] != "" || obsB["sync"] != "OutOfSync" || obsB["health"] != "Degraded" {
		t.Errorf("prod-b observed: %v", b["observed"])
	}
	if c["observed"] != nil || dev["observed"] != nil {
		t.Errorf("clusters serve has not reported must have observed null: prod-c %v, dev-a %v", c["observed"], dev["observed"])
	}
	if lkg, _ := b["lastKnownGood"].(map[string]any); lkg["configVersion"] != "g1.e1.c1" {
		t.Errorf("prod-b lastKnownGood: %v", b["lastKnownGood"])
	}
	if a["lastKnownGood"] != nil {
		t.Errorf("prod-a has no last known good: %v", a["lastKnownGood"])
	}
	rolloutOf := func(c map[string]any) map[string]any {
		t.Helper()
		list, _ := c["rollouts"].([]any)
		if len(list) != 1 {
			t.Fatalf("cluster %v: rollouts %v, want the one of env/prod", c["cluster"], c["rollouts"])
		}
		return list[0].(map[string]any)
	}
	ra, rb := rolloutOf(a), rolloutOf(b)
	if ra["layer"] != "env/prod" || ra["strategy"] != "default" || ra["state"] != "progressing" || ra["wave"] != float64(1) || ra["waves"] != float64(2) ||
		ra["waveName"] != "canary" || ra["currentWave"] != float64(1) || ra["reached"] != true || ra["stable"] != float64(1) || ra["target"] != float64(2) {
		t.Errorf("prod-a's rollout: %v", ra)
	}
	if rb["wave"] != float64(2) || rb["waveName"] != "rest" || rb["reached"] != false || rb["currentWave"] != float64(1) {
		t.Errorf("prod-b's rollout: %v", rb)
	}
	if list, ok := dev["rollouts"].([]any); !ok || len(list) != 0 {
		t.Errorf("dev-a is in no rollout; want rollouts [], got %v", dev["rollouts"])
	}

	// Halted, the rollout serves every cluster the stable version again, wave 1 included.
	rollouts, err := st.Rollouts(ctx)
	if err != nil || len(rollouts) != 1 {
		t.Fatalf("rollouts: %v %v", rollouts, err)
	}
	halted := rollouts[0]
	halted.Halt(time.Now(), "test", "prod-a Degraded")
	if _, err := st.UpdateRollout(ctx, halted, store.RolloutUpdate{Served: true}); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "clusters", "status")
	for _, want := range []string{
		"\nprod-a   prod  g1.e1.c1  g1.e2.c1 ",
		"\n  heads g1.e2.c1\n  rollout env/prod wave 1/2 canary (halted: stable version served)\nprod-b ",
		"\n  rollout env/prod wave 2/2 rest (halted: stable version served)\nprod-c ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("halted: clusters status lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}

	if r := run(t, env, "clusters", "status", "-o", "yaml"); r.code != 2 || !strings.Contains(r.stderr, `--output "yaml": use table or json`) {
		t.Errorf("-o yaml: exit %d, stderr %s", r.code, r.stderr)
	}
}
