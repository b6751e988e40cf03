package cli_test

import (
	"strings"
	"testing"
)

// TestRolloutStatusOfANeverPublishedLayer: status says a layer was never published instead of
// claiming its publishes reached every cluster.
func TestRolloutStatusOfANeverPublishedLayer(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "rollout", "status"); r.code != 0 || r.stdout != "no rollouts: nothing has been published yet\n" {
		t.Errorf("status of an empty table: %d %q", r.code, r.stdout)
	}
	threeDevClusters(t, env)
	if r := run(t, env, "rollout", "status", "--layer", "env/prod"); r.code != 0 || r.stdout != "no rollouts of env/prod: it has never been published\n" {
		t.Errorf("status of a layer never published: %d %q", r.code, r.stdout)
	}
	if r := run(t, env, "rollout", "status", "--layer", "env/dev"); r.code != 0 || r.stdout != "no rollouts of env/dev: its publishes reached every cluster at once\n" {
		t.Errorf("status of a layer published all at once: %d %q", r.code, r.stdout)
	}
}

// TestPromoteOnceAndResumeAfterPromote: a second promote changes and audits nothing; resume
// of a promoted wave says the wave completes without its bake (as the driver does), not that
// the bake restarts.
func TestPromoteOnceAndResumeAfterPromote(t *testing.T) {
	env, _ := tableEnv(t)
	threeDevClusters(t, env)
	file := t.TempDir() + "/two-waves.yaml"
	writeFile(t, file, twoWaves)
	if r := run(t, env, "rollout", "strategy", "put", "-f", file); r.code != 0 {
		t.Fatalf("strategy put: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "publish", "-f", devChange(t, "6"), "--layer", "env/dev"); r.code != 0 {
		t.Fatalf("publish: %d %s", r.code, r.stderr)
	}
	action := func(args ...string) result {
		return run(t, env, append(append([]string{"rollout"}, args...), "--layer", "env/dev", "--actor", "bob")...)
	}
	if r := action("pause"); r.code != 0 {
		t.Fatalf("pause: %d %s", r.code, r.stderr)
	}
	if r := action("promote"); r.code != 0 || !strings.Contains(r.stdout, "promoted the rollout of env/dev version 2 at wave 1/2 (canary), paused: the next wave starts once resumed") {
		t.Errorf("promote: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := action("promote")
	if r.code != 0 || !strings.Contains(r.stdout, "the rollout of env/dev version 2 is promoted already at wave 1/2 (canary), paused: nothing was changed") {
		t.Errorf("second promote: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = action("resume")
	if r.code != 0 || !strings.Contains(r.stdout, "resumed the rollout of env/dev version 2 at wave 1/2 (canary), progressing: the wave is promoted, so it completes as soon as its clusters are Synced and Healthy, without its bake; its timeout starts again") {
		t.Errorf("resume after promote: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	h := run(t, env, "config", "history", "--layer", "env/dev")
	if n := strings.Count(h.stdout, "rollout-promote"); n != 1 {
		t.Errorf("promote is audited %d times, want once:\n%s", n, h.stdout)
	}
}
