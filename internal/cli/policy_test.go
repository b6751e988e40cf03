package cli_test

import (
	"context"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// issue20 is the directory of the issue 20 layer and its policies.
const issue20 = "../policy/testdata/issue20/"

// issue20Refusals are what the default policy says of the issue 20 layer: every rule, each
// with the entry and field it refuses.
var issue20Refusals = []string{
	"cluster/team-a-dev: clusterRoleBindings[everyone-admin].roleRef.name: ClusterRoleBinding everyone-admin binds the ClusterRole cluster-admin",
	"cluster/team-a-dev: clusterRoleBindings[everyone-admin].subjects[0].name: ClusterRoleBinding everyone-admin binds group system:authenticated",
	"cluster/team-a-dev: manifests[AppProject/argocd/open].kind: AppProject argocd/open is an Argo CD object",
	"cluster/team-a-dev: manifests[ConfigMap/kube-system/coredns-custom].metadata.namespace: ConfigMap kube-system/coredns-custom is in namespace kube-system",
	"cluster/team-a-dev: addons[node-agent].project: Application argocd/team-a-dev-node-agent-a6ea795e is in Argo CD project default",
	"cluster/team-a-dev: addons[node-agent].destination: Application argocd/team-a-dev-node-agent-a6ea795e deploys to {name: in-cluster, namespace: kube-system}",
	"cluster/team-a-dev: addons[node-agent].git.repoURL: Application argocd/team-a-dev-node-agent-a6ea795e installs from http://169.254.169.254/latest/meta-data/",
	"refused by the default policy (no policy applies to cluster/team-a-dev); to allow it, store a policy for cluster/team-a-dev with",
}

// TestPolicyIssue20: the layer of issue 20 is refused at publish by the default policy (exit 1,
// every rule named, nothing written); a policy that allows it lets it publish and render; a
// policy change after the publish (the policy deleted) makes generate refuse it (exit 1,
// nothing on stdout, the entry and the rule on stderr), and config validate and config
// render say the same. The policy's changes are audited.
func TestPolicyIssue20(t *testing.T) {
	env, cfg := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	layer := issue20 + "team-a-dev.yaml"
	publish := func() result {
		return run(t, env, "config", "publish", "-f", layer, "--layer", "cluster/team-a-dev", "-m", "take over", "--actor", "mallory")
	}

	// 1. Refused at publish, nothing written.
	r := publish()
	if r.code != 1 {
		t.Fatalf("publish of the issue 20 layer: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, w := range append(issue20Refusals, "refused: cluster/team-a-dev would break 1 of the 1 clusters it affects; nothing was changed") {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("publish's refusal lacks %q:\n%s", w, r.stderr)
		}
	}
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if heads, err := st.Heads(context.Background(), config.ClusterLayer("team-a-dev")); err != nil || len(heads) != 0 {
		t.Fatalf("the refused publish moved a head: %v %v", heads, err)
	}

	// 2. A policy that allows it: stored (and audited), then the publish goes through.
	if r := run(t, env, "policy", "put", "-f", issue20+"allow.yaml", "--actor", "security-team"); r.code != 0 || !strings.Contains(r.stdout, "stored policy team-a-trusted for cluster/team-a-*") {
		t.Fatalf("policy put: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "policy", "list"); r.code != 0 || !strings.Contains(r.stdout, "team-a-trusted") || !strings.Contains(r.stdout, "security-team") {
		t.Errorf("policy list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "policy", "get", "team-a-trusted"); r.code != 0 || !strings.Contains(r.stdout, "- cluster-admin") || !strings.Contains(r.stdout, "# stored ") {
		t.Errorf("policy get: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := publish(); r.code != 0 {
		t.Fatalf("publish under the policy that allows it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	gen := with(env, "ARGOCD_APP_PARAMETERS", `[{"name":"cluster","string":"team-a-dev"},{"name":"configVersion","string":"g0.e0.c1"},{"name":"environment","string":"dev"}]`,
		"ARGOCD_APP_PROJECT_NAME", "team-a", "ARGOCD_APP_NAME", "team-a-dev-bootstrap")
	if r := run(t, gen, "generate"); r.code != 0 || !strings.Contains(r.stdout, `"name":"cluster-admin"`) {
		t.Fatalf("generate under the policy: exit %d\n%s", r.code, r.stderr)
	}

	// 3. The policy is deleted after the publish: put and delete say which clusters stop
	// rendering; generate refuses what the default policy refuses.
	if r := run(t, env, "policy", "delete", "team-a-trusted", "--dry-run"); r.code != 0 || !strings.Contains(r.stderr, "1 of the 1 clusters would no longer render") {
		t.Errorf("policy delete --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "policy", "delete", "team-a-trusted", "--actor", "security-team"); r.code != 0 || !strings.Contains(r.stdout, "deleted policy team-a-trusted") ||
		!strings.Contains(r.stderr, "warning: 1 of the 1 clusters no longer render") || !strings.Contains(r.stderr, "cluster team-a-dev, served g0.e0.c1:") {
		t.Fatalf("policy delete: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, gen, "generate")
	assertFailedCleanly(t, r, 1, `dynamo-cmp could not render cluster "team-a-dev" (configVersion g0.e0.c1): the configuration is invalid (7 problems): `,
		"cluster/team-a-dev: addons[node-agent].destination: ", "and 2 more (dynamo-cmp config validate --cluster team-a-dev lists them all)")
	if r := run(t, env, "config", "validate", "--cluster", "team-a-dev"); r.code != 1 || !strings.Contains(r.stdout, "cluster team-a-dev: served and heads g0.e0.c1: invalid") {
		t.Errorf("config validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	} else {
		for _, w := range issue20Refusals {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("config validate lacks %q:\n%s", w, r.stderr)
			}
		}
	}
	if r := run(t, env, "config", "render", "--cluster", "team-a-dev"); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, issue20Refusals[0]) {
		t.Errorf("config render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// 4. The audit: who stored and deleted the policy.
	r = run(t, env, "policy", "history")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasSuffix(strings.Join(strings.Fields(lines[1]), " "), "team-a-trusted deleted security-team "+testCallerArn+" -") ||
		!strings.HasSuffix(strings.Join(strings.Fields(lines[2]), " "), "team-a-trusted stored security-team "+testCallerArn+" cluster/team-a-*") {
		t.Errorf("policy history: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestGenerateRefusesAVersionWrittenAroundPublish: a version written straight into the table
// (not through publish, so never checked) is judged when generate renders it.
func TestGenerateRefusesAVersionWrittenAroundPublish(t *testing.T) {
	env, cfg := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	layers, err := layerfile.ReadLayerFiles([]string{issue20 + "team-a-dev.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(context.Background(), store.PublishInput{Ref: layers[0].Ref, Entries: layers[0].Entries, Actor: "console"}); err != nil {
		t.Fatal(err)
	}
	gen := with(env, "ARGOCD_APP_PARAMETERS", `[{"name":"cluster","string":"team-a-dev"}]`, "ARGOCD_APP_PROJECT_NAME", "team-a", "ARGOCD_APP_NAME", "team-a-dev-bootstrap")
	assertFailedCleanly(t, run(t, gen, "generate"), 1, "refused by the default policy", "clusterRoleBindings[everyone-admin]")
}

// TestRenderFilesUnderPolicies: render -f judges the files by the default policy, or by the
// policies of --policy files; a policy file is read strictly.
func TestRenderFilesUnderPolicies(t *testing.T) {
	layer := issue20 + "team-a-dev.yaml"
	r := run(t, nil, "render", "-f", layer, "--cluster", "team-a-dev")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "the configuration has 7 problems:") {
		t.Fatalf("render under the default policy: exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range issue20Refusals {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("render lacks %q:\n%s", w, r.stderr)
		}
	}
	if r := run(t, nil, "render", "-f", layer, "--cluster", "team-a-dev", "--policy", issue20+"allow.yaml"); r.code != 0 || !strings.Contains(r.stdout, "kind: AppProject") {
		t.Errorf("render --policy allow.yaml: exit %d\n%s", r.code, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "name: x\nlayers: [\"*\"]\nnamespace: [a]\n---\nname: x\nlayers: [global]\n")
	if r := run(t, nil, "render", "-f", layer, "--cluster", "team-a-dev", "--policy", bad); r.code != 1 || r.stdout != "" ||
		!strings.Contains(r.stderr, `document 1: policy: unknown field "namespace"`) {
		t.Errorf("render --policy with an unknown field: exit %d\n%s", r.code, r.stderr)
	}
}
