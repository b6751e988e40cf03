package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// deepYAML is a flow map nested depth levels deep.
func deepYAML(depth int) string {
	return strings.Repeat("{a: ", depth) + "leaf" + strings.Repeat("}", depth)
}

// Issue 10 §4: an entry nested deeper than DynamoDB allows validates, but DynamoDB refuses
// it. The publish must exit 1 naming the entry and the path, and claim no version (before,
// it exited 3 "retry" and left an interrupted version on every retry).
func TestPublishRefusesWhatDynamoDBCannotStore(t *testing.T) {
	env, _ := tableEnv(t)
	run(t, env, "table", "create")
	publishExamples(t, env)
	f := filepath.Join(t.TempDir(), "deep.yaml")
	writeFile(t, f, readFile(t, "../../examples/layers/env/dev.yaml")+
		"manifests:\n  - {apiVersion: example.com/v1, kind: Deep, metadata: {name: deep, namespace: dev-team}, spec: "+deepYAML(40)+"}\n")
	for range 2 { // a retry changes nothing
		r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev")
		if r.code != 1 || !strings.Contains(r.stderr, "entry manifest/") || !strings.Contains(r.stderr, ": spec.a.a.(26 more).a.a.a…: nested deeper than DynamoDB's limit of 32 levels") {
			t.Fatalf("publish of a 40-level entry: exit %d\n%s", r.code, r.stderr)
		}
	}
	if h := run(t, env, "config", "history", "--layer", "env/dev"); strings.Contains(h.stdout, "interrupted") || !strings.Contains(h.stdout, "\n1 ") {
		t.Errorf("a refused publish must claim no version:\n%s", h.stdout)
	}
}
