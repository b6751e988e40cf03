package cli_test

import (
	"strings"
	"testing"
)

// TestGenerateChecksTheRenderedRecord: the projects generate checks before it renders are the
// cluster record's projects as the configuration reads them: a project written as a number
// (projects: [2026]) is the project "2026", on a latest read (the record kept on the head)
// and on a pinned one (the record read from the pinned version's entries) alike.
func TestGenerateChecksTheRenderedRecord(t *testing.T) {
	env, _ := examplesTable(t)
	file := t.TempDir() + "/c.yaml"
	writeFile(t, file, "layer: cluster/num\ncluster: {environment: dev, region: eu-west-1, projects: [platform, 2026]}\nnamespaces: [{namespace: a}]\n")
	if r := run(t, env, "config", "publish", "-f", file, "--layer", "cluster/num", "-m", "test", "--actor", "tester"); r.code != 0 {
		t.Fatalf("publish: exit %d\n%s", r.code, r.stderr)
	}
	for _, params := range []string{
		`[{"name":"cluster","string":"num"}]`,
		`[{"name":"cluster","string":"num"},{"name":"configVersion","string":"g1.e1.c1"}]`,
	} {
		r := run(t, with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", "2026"), "generate")
		if r.code != 0 || !strings.Contains(r.stdout, `"name":"a"`) {
			t.Errorf("%s: project 2026: exit %d, stderr: %s", params, r.code, r.stderr)
		}
		assertFailedCleanly(t, run(t, with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", "team-a"), "generate"), 1,
			`Argo CD project "team-a" may not render this cluster.`)
	}
}
