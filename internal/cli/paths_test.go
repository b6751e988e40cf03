package cli_test

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// TestEmptyKeysNamedInProblems: an empty map key (a variable, a label, a field) is named as
// [""] in the problem's path, not as an index ("cluster.vars[0]").
func TestEmptyKeysNamedInProblems(t *testing.T) {
	path := t.TempDir() + "/c.yaml"
	writeFile(t, path, "layer: cluster/c\ncluster: {environment: dev, region: r, vars: {\"\": x, ok: y}}\nnamespaces: [{namespace: a, labels: {\"\": b}}, {namespace: b, \"\": 1}]\n")
	r := run(t, cli.Env{}, "render", "-f", path, "--cluster", "c")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{
		`cluster/c: cluster.vars[""]: "" is not a valid variable name`,
		`cluster/c: namespaces[a].labels[""]: "" is not a valid label key`,
		`namespaces[b][""]: unknown field`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "[0]") {
		t.Errorf("an empty key is reported as an index:\n%s", r.stderr)
	}
}
