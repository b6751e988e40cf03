package cli_test

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// TestProjectAuthorisationCannotBeDodgedByPinning (issue 20, item 3): version 1 of a cluster
// layer lists no projects, version 2 lists [platform]. An Application of project team-a is
// refused on latest and on a configVersion pinning version 1 alike: generate authorises
// against the head's record as well as the pinned one, and a record without projects allows
// no project. The refusal says only that the project is not allowed.
func TestProjectAuthorisationCannotBeDodgedByPinning(t *testing.T) {
	env := addonFreeTable(t)
	file := t.TempDir() + "/c.yaml"
	publish := func(record string) {
		t.Helper()
		writeFile(t, file, "layer: cluster/team\ncluster: {environment: dev, region: eu-west-1"+record+"}\nnamespaces: [{namespace: a}]\n")
		if r := run(t, env, "config", "publish", "-f", file, "--layer", "cluster/team", "-m", "test", "--actor", "tester"); r.code != 0 {
			t.Fatalf("publish: exit %d\n%s", r.code, r.stderr)
		}
	}
	publish("")
	publish(", projects: [platform]")

	latest := `[{"name":"cluster","string":"team"}]`
	pinnedV1 := `[{"name":"cluster","string":"team"},{"name":"configVersion","string":"g1.e1.c1"}]`
	pinnedV2 := `[{"name":"cluster","string":"team"},{"name":"configVersion","string":"g1.e1.c2"}]`
	for _, params := range []string{latest, pinnedV1, pinnedV2} {
		r := run(t, with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", "team-a"), "generate")
		assertFailedCleanly(t, r, 1, `Argo CD project "team-a" may not render this cluster`)
		if strings.Contains(r.stderr, "platform") {
			t.Errorf("%s: the refusal names the allowed projects: %s", params, r.stderr)
		}
	}
	// platform is allowed by the head and by version 2; version 1 allows no project.
	for _, params := range []string{latest, pinnedV2} {
		if r := run(t, argocdEnv(env, params), "generate"); r.code != 0 || !strings.Contains(r.stdout, `"name":"a"`) {
			t.Errorf("%s: project platform: exit %d: %s", params, r.code, r.stderr)
		}
	}
	assertFailedCleanly(t, run(t, argocdEnv(env, pinnedV1), "generate"), 1, `Argo CD project "platform" may not render this cluster`)
}

// TestClusterWithoutProjectsRendersForNoProject: an empty projects list is not "every
// project": generate refuses every Application, and publishing such a record warns.
func TestClusterWithoutProjectsRendersForNoProject(t *testing.T) {
	env := addonFreeTable(t)
	file := t.TempDir() + "/c.yaml"
	writeFile(t, file, "layer: cluster/open\ncluster: {environment: dev, region: eu-west-1}\nnamespaces: [{namespace: a}]\n")
	r := run(t, env, "config", "publish", "-f", file, "--layer", "cluster/open", "-m", "test", "--actor", "tester")
	if r.code != 0 {
		t.Fatalf("publish: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "lists no projects") {
		t.Errorf("publishing a cluster record without projects does not warn:\n%s", r.stderr)
	}
	for _, project := range []string{"platform", "default", ""} {
		assertFailedCleanly(t, run(t, with(argocdEnv(env, `[{"name":"cluster","string":"open"}]`), "ARGOCD_APP_PROJECT_NAME", project), "generate"), 1,
			"may not render this cluster")
	}
}

// addonFreeTable is a table whose global and env/dev layers (version 1 each) render one
// namespace and no add-on: the default policy refuses add-ons in a project the cluster record
// does not name, and these tests publish records that name none.
func addonFreeTable(t *testing.T) cli.Env {
	t.Helper()
	env, _ := tableEnv(t)
	run(t, env, "table", "create")
	for _, layer := range []string{"global", "env/dev"} {
		file := t.TempDir() + "/l.yaml"
		writeFile(t, file, "layer: "+layer+"\nnamespaces: [{namespace: "+strings.ReplaceAll(layer, "/", "-")+"-shared}]\n")
		if r := run(t, env, "config", "publish", "-f", file, "--layer", layer, "-m", "test", "--actor", "tester"); r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s", layer, r.code, r.stderr)
		}
	}
	return env
}
