package cli_test

import (
	"strings"
	"testing"
)

// TestParametersOnlyToAllowedProjects: the dynamic parameters show versions, actors and
// messages to an Application of a project the cluster allows; any other project gets the
// refusal on stderr, [] on stdout, and nothing of the cluster (docs/security.md). Argo CD
// itself never names the project when it asks for parameters (v3.5.7 populatePluginAppDetails):
// then the versions are shown, but not who published them or why.
func TestParametersOnlyToAllowedProjects(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	for _, l := range []string{"global", "env/dev", "cluster/dev-k3s"} {
		r := run(t, env, "config", "publish", "-f", "../../examples/layers/"+l+".yaml", "--layer", l, "-m", "secret-plan-"+l, "--actor", "alice@example.com")
		if r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s%s", l, r.code, r.stdout, r.stderr)
		}
	}
	params := `[{"name":"cluster","string":"dev-k3s"}]`

	ok := run(t, argocdEnv(env, params), "parameters")
	if ok.code != 0 || !strings.Contains(ok.stdout, "alice@example.com") || !strings.Contains(ok.stdout, "g1.e1.c1") {
		t.Fatalf("allowed project: exit %d, stdout %s, stderr %s", ok.code, ok.stdout, ok.stderr)
	}

	t.Run("project not named, as Argo CD asks", func(t *testing.T) {
		r := run(t, with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", ""), "parameters")
		if r.code != 0 || !strings.Contains(r.stdout, "g1.e1.c1") || !strings.Contains(r.stdout, "version 1") {
			t.Fatalf("exit %d, stdout %s, stderr %s; want the published versions", r.code, r.stdout, r.stderr)
		}
		for _, leak := range []string{"alice", "secret-plan"} {
			if strings.Contains(r.stdout+r.stderr, leak) {
				t.Errorf("shows %q without knowing the Application's project:\n%s%s", leak, r.stdout, r.stderr)
			}
		}
		if !strings.Contains(r.stdout, "withheld") {
			t.Errorf("the tooltip does not say who and why are withheld: %s", r.stdout)
		}
	})

	for name, e := range map[string]map[string]string{
		"other project": with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", "team-a"),
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, e, "parameters")
			if r.code != 0 || r.stdout != "[]\n" {
				t.Errorf("exit %d, stdout %q; want exit 0 and []", r.code, r.stdout)
			}
			if !strings.Contains(r.stderr, "may not render this cluster") {
				t.Errorf("stderr lacks the refusal: %q", r.stderr)
			}
			for _, leak := range []string{"alice", "secret-plan", "g1.e1.c1", "version 1"} {
				if strings.Contains(r.stdout+r.stderr, leak) {
					t.Errorf("shows %q to a project the cluster does not allow:\n%s%s", leak, r.stdout, r.stderr)
				}
			}
		})
	}
}
