package cli_test

import (
	"strings"
	"testing"
)

// Issue 18 §5: `config diff --cluster nope` with a pinned configVersion blamed a layer version
// ("layer cluster/nope has no version 1"). The cluster is not registered: say so, as with
// latest, whichever version is asked for (exit 1).
func TestUnregisteredClusterIsNamed(t *testing.T) {
	env, _ := examplesTable(t)
	const want = "cluster nope is not registered: its layer cluster/nope has never been published"
	for _, args := range [][]string{
		{"config", "diff", "--cluster", "nope", "--from", "g1.e1.c1", "--to", "latest"},
		{"config", "diff", "--cluster", "nope", "--from", "latest", "--to", "g1.e1.c1"},
		{"config", "render", "--cluster", "nope", "--version", "g1.e1.c1"},
		{"config", "explain", "--cluster", "nope", "--version", "g1.e1.c1"},
	} {
		r := run(t, env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "has no version") {
			t.Errorf("%v: exit %d, want 1 with %q\n%s", args, r.code, want, r.stderr)
		}
	}
	// A registered cluster pinned to a version its layer does not have keeps that message.
	if r := run(t, env, "config", "render", "--cluster", "dev-k3s", "--version", "g1.e1.c7"); r.code != 1 || !strings.Contains(r.stderr, "layer cluster/dev-k3s has no version 7") {
		t.Errorf("a registered cluster at a missing version: exit %d\n%s", r.code, r.stderr)
	}
}
