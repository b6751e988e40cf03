package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

const twoWaves = `name: two-waves
layers: [env/dev]
waves:
  - name: canary
    namePattern: dev-a
    bake: 10s
  - name: rest
`

// rolloutStatus is the part of rollout status -o json the tests read.
type rolloutStatus struct {
	Rollouts []struct {
		Layer       string `json:"layer"`
		Strategy    string `json:"strategy"`
		State       string `json:"state"`
		Status      string `json:"status"`
		Live        bool   `json:"live"`
		Stable      int    `json:"stable"`
		Target      int    `json:"target"`
		Head        int    `json:"head"`
		CurrentWave int    `json:"currentWave"`
		Promoted    bool   `json:"promoted"`
		UpdatedBy   string `json:"updatedBy"`
		// UpdatedByArn is the AWS principal that wrote the current revision.
		UpdatedByArn string `json:"updatedByArn"`
		Waves        []struct {
			Name     string `json:"name"`
			Bake     string `json:"bake"`
			Current  bool   `json:"current"`
			Clusters []struct {
				Name     string `json:"name"`
				Reached  bool   `json:"reached"`
				Served   string `json:"served"`
				Observed *struct {
					SyncedVersion string `json:"syncedVersion"`
					Health        string `json:"health"`
				} `json:"observed"`
			} `json:"clusters"`
		} `json:"waves"`
		Log []struct {
			Event string `json:"event"`
			Actor string `json:"actor"`
		} `json:"log"`
	} `json:"rollouts"`
}

func readStatus(t *testing.T, env cli.Env, args ...string) rolloutStatus {
	t.Helper()
	r := run(t, env, append([]string{"rollout", "status", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("rollout status: exit %d\n%s", r.code, r.stderr)
	}
	var s rolloutStatus
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("rollout status -o json: %v\n%s", err, r.stdout)
	}
	return s
}

// threeDevClusters publishes global, env/dev and clusters dev-a, dev-b, dev-c, all version 1.
func threeDevClusters(t *testing.T, env cli.Env) {
	t.Helper()
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	for _, l := range []string{"global", "env/dev"} {
		if r := run(t, env, "config", "publish", "-f", "../../examples/layers/"+l+".yaml", "--layer", l, "--actor", "tester"); r.code != 0 {
			t.Fatalf("publish %s: %d %s", l, r.code, r.stderr)
		}
	}
	dir := t.TempDir()
	for _, c := range []string{"dev-a", "dev-b", "dev-c"} {
		file := dir + "/" + c + ".yaml"
		writeFile(t, file, strings.Replace(readFile(t, "../../examples/layers/cluster/dev-k3s.yaml"), "layer: cluster/dev-k3s", "layer: cluster/"+c, 1))
		if r := run(t, env, "config", "publish", "-f", file, "--layer", "cluster/"+c, "--actor", "tester"); r.code != 0 {
			t.Fatalf("publish %s: %d %s", c, r.code, r.stderr)
		}
	}
}

// devChange writes env/dev with the quota's cpu set to cpu.
func devChange(t *testing.T, cpu string) string {
	t.Helper()
	file := t.TempDir() + "/dev.yaml"
	writeFile(t, file, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "`+cpu+`"`, 1))
	return file
}

func TestRolloutStrategyCommands(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "rollout", "strategy", "list"); r.code != 0 || !strings.Contains(r.stdout, "no rollout strategies") {
		t.Errorf("list of none: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()

	// An invalid strategy is refused, naming the wave and the field, and nothing is stored.
	bad := dir + "/bad.yaml"
	writeFile(t, bad, twoWaves+"    maxFailures: -1\n    percent: 150\n")
	r := run(t, env, "rollout", "strategy", "put", "-f", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "wave 2 (rest): maxFailures: -1 is negative") ||
		!strings.Contains(r.stderr, "wave 2 (rest): percent: 150 is not between 0 and 100") || !strings.Contains(r.stderr, "nothing was stored") {
		t.Errorf("invalid strategy: exit %d\n%s", r.code, r.stderr)
	}
	unknown := dir + "/unknown.yaml"
	writeFile(t, unknown, twoWaves+"    bakeTime: 10s\n")
	if r := run(t, env, "rollout", "strategy", "put", "-f", unknown); r.code != 1 || !strings.Contains(r.stderr, "strategy two-waves: wave 2 (rest): bakeTime: unknown field") {
		t.Errorf("unknown field: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, env, "rollout", "strategy", "list"); !strings.Contains(r.stdout, "no rollout strategies") {
		t.Errorf("a refused strategy must not be stored:\n%s", r.stdout)
	}
	if r := run(t, env, "rollout", "strategy", "put"); r.code != 2 {
		t.Errorf("put without -f: exit %d, want 2", r.code)
	}

	good := dir + "/good.yaml"
	writeFile(t, good, twoWaves)
	r = run(t, env, "rollout", "strategy", "put", "-f", good, "--actor", "alice")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "stored strategy two-waves for env/dev: 2 waves: canary (namePattern dev-a, bake 10s), rest\n") {
		t.Errorf("put: exit %d\n%q%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "rollout", "strategy", "put", "-f", good, "--actor", "alice"); !strings.HasPrefix(r.stdout, "replaced strategy two-waves") {
		t.Errorf("second put: %s%s", r.stdout, r.stderr)
	}
	l := run(t, env, "rollout", "strategy", "list")
	if lines := strings.Split(strings.TrimSpace(l.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], "two-waves  env/dev  -            2: canary, rest  ") || !strings.HasSuffix(lines[1], "alice") {
		t.Errorf("list:\n%s", l.stdout)
	}

	// get prints what put reads: it round-trips.
	g := run(t, env, "rollout", "strategy", "get", "two-waves")
	if g.code != 0 || !strings.Contains(g.stdout, "bake: 10s") || !strings.Contains(g.stdout, "namePattern: dev-a") || !strings.Contains(g.stdout, "by alice") {
		t.Errorf("get:\n%s%s", g.stdout, g.stderr)
	}
	again := dir + "/again.yaml"
	writeFile(t, again, g.stdout)
	if r := run(t, env, "rollout", "strategy", "put", "-f", again, "--actor", "alice"); r.code != 0 {
		t.Errorf("put of get's output: %d %s", r.code, r.stderr)
	}
	if g := run(t, env, "rollout", "strategy", "get", "two-waves", "-o", "json"); !strings.Contains(g.stdout, `"bake": "10s"`) {
		t.Errorf("get -o json:\n%s", g.stdout)
	}
	if g := run(t, env, "rollout", "strategy", "get", "nope"); g.code != 1 || !strings.Contains(g.stderr, `no strategy "nope": the table has two-waves`) {
		t.Errorf("get of an absent strategy: %d %s", g.code, g.stderr)
	}

	if r := run(t, env, "rollout", "strategy", "delete", "two-waves"); r.code != 0 || !strings.Contains(r.stdout, "deleted strategy two-waves") {
		t.Errorf("delete: %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "rollout", "strategy", "delete", "two-waves"); r.code != 1 || !strings.Contains(r.stderr, `no strategy "two-waves"`) {
		t.Errorf("delete of an absent strategy: %d %s", r.code, r.stderr)
	}
}

func TestPublishInWavesAndOperate(t *testing.T) {
	env, cfg := tableEnv(t)
	threeDevClusters(t, env)
	file := t.TempDir() + "/two-waves.yaml"
	writeFile(t, file, twoWaves)
	if r := run(t, env, "rollout", "strategy", "put", "-f", file); r.code != 0 {
		t.Fatalf("strategy put: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "rollout", "status"); r.code != 0 || r.stdout != "no rollouts: every publish so far reached its clusters at once\n" {
		t.Errorf("status of none: %d %q", r.code, r.stdout)
	}
	changed := devChange(t, "6")

	// A strategy that does not exist, or two choices, are usage errors; nothing is published.
	r := run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "--strategy", "unknown")
	if r.code != 2 || !strings.Contains(r.stderr, "--strategy unknown: no such strategy; the table has two-waves; nothing was published") {
		t.Errorf("--strategy unknown: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "--strategy", "two-waves", "--all-at-once"); r.code != 2 || !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("--strategy with --all-at-once: exit %d %s", r.code, r.stderr)
	}
	if g := run(t, env, "config", "get", "--layer", "env/dev"); !strings.Contains(g.stdout, "version=1") {
		t.Errorf("nothing must have been published:\n%s", g.stdout)
	}

	plan := `strategy "two-waves", 2 waves: 1 canary (bake 10s, maxFailures 0): dev-a; 2 rest (bake 0s, maxFailures 0): dev-b, dev-c`
	r = run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "rollout (dry run): "+plan+"\n") || strings.Contains(r.stdout, "follow it") {
		t.Errorf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "--actor", "alice", "-m", "more cpu")
	if r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 2 (was 1)") || !strings.Contains(r.stdout, "rollout: "+plan+"\n  follow it: dynamo-cmp rollout status --layer env/dev\n") {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Wave 1 only: dev-a is served env/dev version 2, the others version 1.
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutObservations(context.Background(), []store.Observation{{Cluster: "dev-a", Applications: 2, Sync: "Synced", Health: "Healthy", SyncedVersion: "g1.e2.c1", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	s := readStatus(t, env, "--layer", "env/dev")
	if len(s.Rollouts) != 1 {
		t.Fatalf("rollouts: %+v", s)
	}
	ro := s.Rollouts[0]
	if ro.Layer != "env/dev" || ro.Strategy != "two-waves" || ro.Status != "progressing" || !ro.Live || ro.Stable != 1 || ro.Target != 2 || ro.CurrentWave != 1 || len(ro.Waves) != 2 {
		t.Errorf("rollout: %+v", ro)
	}
	served := map[string]string{}
	for _, w := range ro.Waves {
		for _, c := range w.Clusters {
			served[c.Name] = c.Served
		}
	}
	if served["dev-a"] != "g1.e2.c1" || served["dev-b"] != "g1.e1.c1" || served["dev-c"] != "g1.e1.c1" {
		t.Errorf("served: %v", served)
	}
	if c := ro.Waves[0].Clusters[0]; !ro.Waves[0].Current || !c.Reached || c.Observed == nil || c.Observed.SyncedVersion != "g1.e2.c1" || c.Observed.Health != "Healthy" {
		t.Errorf("wave 1: %+v", ro.Waves[0])
	}
	text := run(t, env, "rollout", "status")
	for _, want := range []string{
		"env/dev: strategy two-waves, progressing, version 1 → 2, wave 1/2 (canary)\n",
		"by alice; updated ",
		"  *  1 canary  10s   0             dev-a    g1.e2.c1  g1.e2.c1  Synced  Healthy",
		"     2 rest    0s    0             dev-b    g1.e1.c1  -         -       -        never",
		"started  wave 1  by alice",
	} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, text.stdout)
		}
	}

	// The operator actions, and those the state refuses (exit 1, nothing changed).
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"resume"}, 1, "cannot resume the rollout of env/dev: it is progressing; nothing was changed"},
		{[]string{"pause", "-m", "looking at dev-a"}, 0, "paused the rollout of env/dev version 2 at wave 1/2 (canary), paused"},
		{[]string{"pause"}, 1, "cannot pause the rollout of env/dev: it is paused"},
		{[]string{"resume"}, 0, "resumed the rollout of env/dev version 2 at wave 1/2 (canary), progressing"},
		{[]string{"promote"}, 0, "promoted the rollout of env/dev version 2 at wave 1/2 (canary)"},
	}
	for _, step := range steps {
		r := run(t, env, append(append([]string{"rollout"}, step.args...), "--layer", "env/dev", "--actor", "bob")...)
		if r.code != step.code || !strings.Contains(r.stdout+r.stderr, step.want) {
			t.Errorf("rollout %v: exit %d, want %d and %q\n%s%s", step.args, r.code, step.code, step.want, r.stdout, r.stderr)
		}
	}
	if s := readStatus(t, env); !s.Rollouts[0].Promoted || s.Rollouts[0].Status != "progressing" {
		t.Errorf("after promote: %+v", s.Rollouts[0])
	} else if s.Rollouts[0].UpdatedBy != "bob" || s.Rollouts[0].UpdatedByArn != testCallerArn {
		t.Errorf("after promote: updated by %q (%q), want bob (%s)", s.Rollouts[0].UpdatedBy, s.Rollouts[0].UpdatedByArn, testCallerArn)
	}
	if r := run(t, env, "rollout", "status", "--layer", "env/dev"); !strings.Contains(r.stdout, " by bob ("+testCallerArn+")\n") {
		t.Errorf("rollout status does not name bob's principal:\n%s%s", r.stdout, r.stderr)
	}
	if r := run(t, env, "rollout", "pause", "--layer", "cluster/dev-a"); r.code != 2 {
		t.Errorf("pause of a cluster layer: exit %d, want 2", r.code)
	}
	if r := run(t, env, "rollout", "pause", "--layer", "global"); r.code != 1 || !strings.Contains(r.stderr, "global has no rollout; its publishes reached every cluster at once") {
		t.Errorf("pause without a rollout: %d %s", r.code, r.stderr)
	}

	// Abort serves version 1 everywhere again and rolls the head back to it.
	r = run(t, env, "rollout", "abort", "--layer", "env/dev", "--actor", "bob", "-m", "bad quota")
	if r.code != 0 || !strings.Contains(r.stdout, "aborted the rollout of env/dev version 2 at wave 1/2 (canary), aborted: every cluster is served version 1 again") ||
		!strings.Contains(r.stdout, "rolled back env/dev from version 2 to 1: 0 added, 1 changed, 0 removed; 3 clusters validated") {
		t.Fatalf("abort: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := run(t, env, "config", "get", "--layer", "env/dev"); !strings.Contains(g.stdout, "version=1") || !strings.Contains(g.stdout, `cpu: "4"`) {
		t.Errorf("after abort the head is version 1:\n%s", g.stdout)
	}
	h := run(t, env, "config", "history", "--layer", "env/dev")
	audit := strings.Join(strings.Fields(h.stdout[strings.Index(h.stdout, "ACTION"):]), " ")
	// Each names the AWS principal beside the --actor label.
	for _, want := range []string{"rollback 2 1 bob", "rollout-abort 2 2 bob", "rollout-promote 2 2 bob", "rollout-resume 2 2 bob", "rollout-pause 2 2 bob", "publish 1 2 alice"} {
		if !strings.Contains(audit, want+" "+testCallerArn+" ") {
			t.Errorf("history lacks %q:\n%s", want, h.stdout)
		}
	}
	if !strings.Contains(audit, "looking at dev-a") || !strings.Contains(audit, "abort of the rollout of version 2: bad quota") {
		t.Errorf("history lacks the messages:\n%s", h.stdout)
	}
	s = readStatus(t, env)
	if ro := s.Rollouts[0]; ro.State != "rolled-back" || ro.Status != "rolled-back" || ro.Live || ro.Head != 1 {
		t.Errorf("after abort: %+v", ro)
	}
	for _, w := range s.Rollouts[0].Waves {
		for _, c := range w.Clusters {
			if c.Served != "g1.e1.c1" || c.Reached {
				t.Errorf("after abort %s is served %s", c.Name, c.Served)
			}
		}
	}
	if r := run(t, env, "rollout", "resume", "--layer", "env/dev"); r.code != 1 || !strings.Contains(r.stderr, "the rollout of env/dev version 2 is over: it was rolled back") {
		t.Errorf("resume after abort: %d %s", r.code, r.stderr)
	}

	// A later publish supersedes a rollout; --all-at-once starts none.
	if r := run(t, env, "config", "publish", "-f", devChange(t, "7"), "--layer", "env/dev"); r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 3") {
		t.Fatalf("publish 3: %d %s", r.code, r.stderr)
	}
	r = run(t, env, "config", "publish", "-f", devChange(t, "8"), "--layer", "env/dev", "--all-at-once")
	if r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 4 (was 3)") || !strings.Contains(r.stdout, "rollout: all at once (3 clusters, --all-at-once)\n") {
		t.Fatalf("--all-at-once: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The outcome stays the last line (scripts keep only it, scripts/demo.sh among them).
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); !strings.HasPrefix(lines[len(lines)-1], "published env/dev version 4") {
		t.Errorf("the last line of a publish is %q, want the outcome", lines[len(lines)-1])
	}
	s = readStatus(t, env)
	if ro := s.Rollouts[0]; ro.Target != 3 || ro.Status != "superseded" || ro.State != "progressing" || ro.Live || ro.Head != 4 {
		t.Errorf("superseded rollout: %+v", ro)
	}
	if r := run(t, env, "rollout", "status"); !strings.Contains(r.stdout, "superseded (was progressing; the head is at version 4 now)") {
		t.Errorf("status of a superseded rollout:\n%s", r.stdout)
	}
	if r := run(t, env, "rollout", "pause", "--layer", "env/dev"); r.code != 1 || !strings.Contains(r.stderr, "the rollout of env/dev version 3 was superseded by a later publish: the head is at version 4") {
		t.Errorf("pause of a superseded rollout: %d %s", r.code, r.stderr)
	}
	if l := run(t, env, "clusters", "list"); strings.Count(l.stdout, "g1.e4.c1") != 3 {
		t.Errorf("clusters list after --all-at-once:\n%s", l.stdout)
	}
}

// TestAbortFirstVersion: an aborted rollout of a layer's first version moves the head back to
// version 0 (no entries), where every cluster is served (issue 18 §1).
func TestAbortFirstVersion(t *testing.T) {
	env, cfg := tableEnv(t)
	threeDevClusters(t, env)
	file := t.TempDir() + "/default.yaml"
	writeFile(t, file, "name: default\nwaves:\n  - name: first\n    namePattern: dev-a\n  - name: rest\n")
	if r := run(t, env, "rollout", "strategy", "put", "-f", file); r.code != 0 {
		t.Fatalf("strategy put: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "rollout", "strategy", "list"); !strings.Contains(r.stdout, "every global and environment layer no other strategy lists") {
		t.Errorf("list of the default:\n%s", r.stdout)
	}
	// A fresh env layer without clusters: version 1 over version 0.
	layer := t.TempDir() + "/test.yaml"
	writeFile(t, layer, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), "layer: env/dev", "layer: env/test", 1))
	r := run(t, env, "config", "publish", "-f", layer, "--layer", "env/test")
	if r.code != 0 || !strings.Contains(r.stdout, `rollout: strategy "default", 2 waves: 1 first (bake 0s, maxFailures 0): no clusters, skipped at once; 2 rest (bake 0s, maxFailures 0): no clusters, skipped at once`) {
		t.Fatalf("publish env/test: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "rollout", "abort", "--layer", "env/test")
	if r.code != 0 || !strings.Contains(r.stdout, "every cluster is served version 0 (no entries) again") || !strings.Contains(r.stdout, "rolled back env/test from version 1 to 0 (no entries)") {
		t.Errorf("abort of a first version: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := readStatus(t, env, "--layer", "env/test"); s.Rollouts[0].State != "rolled-back" || s.Rollouts[0].Live || s.Rollouts[0].Head != 0 {
		t.Errorf("after abort: %+v", s.Rollouts[0])
	}
	// The default strategy also takes env/dev: dev-a first.
	if r := run(t, env, "config", "publish", "-f", devChange(t, "5"), "--layer", "env/dev", "--dry-run"); !strings.Contains(r.stdout, `rollout (dry run): strategy "default", 2 waves: 1 first (bake 0s, maxFailures 0): dev-a; 2 rest`) {
		t.Errorf("dry run with the default strategy:\n%s", r.stdout)
	}
	// A cluster layer is never rolled out: no rollout line.
	if r := run(t, env, "config", "publish", "-f", "../../examples/layers/cluster/dev-k3s.yaml", "--layer", "cluster/dev-k3s", "--strategy", "default"); r.code != 2 || !strings.Contains(r.stderr, "cluster layers are never rolled out in waves") {
		t.Errorf("--strategy with a cluster layer: %d %s", r.code, r.stderr)
	}

	// drafts publish takes the same choice.
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "from-console"})
	if err := st.PutDrafts(context.Background(), config.EnvLayer("dev"), []store.Draft{{Entry: ns}}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--strategy", "default", "--all-at-once"); r.code != 2 {
		t.Errorf("drafts publish with both: exit %d, want 2", r.code)
	}
	if r := run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--strategy", "nope"); r.code != 2 || !strings.Contains(r.stderr, "no such strategy") {
		t.Errorf("drafts publish --strategy nope: %d %s", r.code, r.stderr)
	}
	r = run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--all-at-once")
	if r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 2 (was 1): 1 added") || !strings.Contains(r.stdout, "rollout: all at once (3 clusters, --all-at-once)") {
		t.Errorf("drafts publish --all-at-once: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := run(t, env, "rollout", "abort", "--layer", "env/test"); r.code != 1 || !strings.Contains(r.stderr, "the rollout of env/test version 1 is over: it was rolled back") {
		t.Errorf("second abort of a first version: %d %s", r.code, r.stderr)
	}

	// An abort whose rollback did not happen (the command was killed after the abort): abort
	// again rolls the head back.
	if r := run(t, env, "config", "publish", "-f", devChange(t, "5"), "--layer", "env/dev"); r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 3") {
		t.Fatalf("publish: %d %s%s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	reg, err := st.RegistryState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ro, ok := registry.InventoryOf(reg).LiveRollout(config.EnvLayer("dev"))
	if !ok {
		t.Fatal("no live rollout of env/dev")
	}
	if err := ro.Abort(time.Now(), "killed", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateRollout(ctx, ro, store.RolloutUpdate{Served: true}); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "rollout", "abort", "--layer", "env/dev", "--actor", "bob")
	if r.code != 0 || !strings.Contains(r.stdout, "the rollout of env/dev version 3 is aborted already: every cluster is served version 2; rolling the head back") ||
		!strings.Contains(r.stdout, "rolled back env/dev from version 3 to 2") {
		t.Errorf("abort of an aborted rollout: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := readStatus(t, env, "--layer", "env/dev"); s.Rollouts[0].State != "rolled-back" || s.Rollouts[0].Head != 2 {
		t.Errorf("after the second abort: %+v", s.Rollouts[0])
	}
}
