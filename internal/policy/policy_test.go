package policy_test

import (
	"errors"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// renderLayer renders the layer documents of data for cluster under the policies.
func renderLayer(t *testing.T, data, cluster string, set policy.Set) (*render.Manifests, error) {
	t.Helper()
	layers, err := layerfile.ParseLayers("test.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	layers, err = config.SelectLayers(layers, cluster, "")
	if err != nil {
		t.Fatal(err)
	}
	return ops.Render(layers, cluster, set, render.Options{}, nil)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "issue20", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t *testing.T, data string) policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// problems returns the validation problems of a render error, one string each.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want validation problems, got %v", err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.Error()
	}
	return out
}

// TestIssueExampleRefusedByDefault: the layer of issue 20 — a ClusterRoleBinding of
// cluster-admin to system:authenticated, an AppProject and a kube-system object in manifests,
// an add-on Application in project default deploying to in-cluster/kube-system from the
// instance metadata address — is refused by the default policy, every part of it at once,
// each problem naming the layer, the entry, the field, the rule and how to allow it.
func TestIssueExampleRefusedByDefault(t *testing.T) {
	_, err := renderLayer(t, readTestdata(t, "team-a-dev.yaml"), "team-a-dev", nil)
	got := problems(t, err)
	want := []struct{ at, says string }{
		{"cluster/team-a-dev: addons[node-agent].destination: ", "deploys to {name: in-cluster, namespace: kube-system}: an Application of cluster team-a-dev must deploy to that cluster"},
		{"cluster/team-a-dev: addons[node-agent].git.repoURL: ", "installs from http://169.254.169.254/latest/meta-data/, a link-local address (instance metadata)"},
		{"cluster/team-a-dev: addons[node-agent].project: ", "is in Argo CD project default, and the cluster record of team-a-dev names team-a"},
		{"cluster/team-a-dev: clusterRoleBindings[everyone-admin].roleRef.name: ", "binds the ClusterRole cluster-admin"},
		{"cluster/team-a-dev: clusterRoleBindings[everyone-admin].subjects[0].name: ", "binds group system:authenticated"},
		{"cluster/team-a-dev: manifests[AppProject/argocd/open].kind: ", "AppProject argocd/open is an Argo CD object (argoproj.io/AppProject)"},
		{"cluster/team-a-dev: manifests[ConfigMap/kube-system/coredns-custom].metadata.namespace: ", "is in namespace kube-system"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w.at) || !strings.Contains(got[i], w.says) {
			t.Errorf("problem %d:\n%s\nwant it to start %q and say %q", i, got[i], w.at, w.says)
		}
		if !strings.Contains(got[i], "refused by the default policy (no policy applies to cluster/team-a-dev); to allow it, store a policy for cluster/team-a-dev with ") {
			t.Errorf("problem %d does not say which policy refuses it and how to widen it:\n%s", i, got[i])
		}
	}
	for _, hint := range []string{"rbac.roles: [cluster-admin]", "rbac.subjects: [system:authenticated]", "kinds: [argoproj.io/AppProject]",
		"namespaces: [kube-system]", "addons.projects: [default]", "addons.destinations: [{name: in-cluster, namespace: kube-system}]",
		"addons.sourceRepos: [http://169.254.169.254/latest/meta-data/]"} {
		if !strings.Contains(strings.Join(got, "\n"), hint) {
			t.Errorf("no problem says how to allow it with %s", hint)
		}
	}
}

// TestIssueExampleAllowedByPolicy: a policy that names each thing the default refuses lets
// the same layer render, and applies only to the layers it lists.
func TestIssueExampleAllowedByPolicy(t *testing.T) {
	layer := readTestdata(t, "team-a-dev.yaml")
	set := policy.Set{mustParse(t, readTestdata(t, "allow.yaml"))}
	out, err := renderLayer(t, layer, "team-a-dev", set)
	if err != nil {
		t.Fatalf("refused under the policy that allows it:\n%v", err)
	}
	for _, s := range []string{`"name":"cluster-admin"`, `"kind":"AppProject"`, `"namespace":"kube-system"`, `"repoURL":"http://169.254.169.254/latest/meta-data/"`} {
		if !strings.Contains(string(out.Bytes()), s) {
			t.Errorf("the render lacks %s", s)
		}
	}
	// The same layer for another team's cluster: the policy does not apply.
	other := strings.ReplaceAll(layer, "team-a-dev", "team-b-dev")
	if _, err := renderLayer(t, other, "team-b-dev", set); err == nil {
		t.Error("team-b-dev renders under team A's policy")
	}
}

// TestPolicyNarrowsWhatALayerRenders: a policy's lists are what the layer may render; a
// namespace outside them, a kind not listed, a repository not listed are refused, naming the
// policy and what to add.
func TestPolicyNarrowsWhatALayerRenders(t *testing.T) {
	layer := `layer: cluster/team-a-dev
cluster: {environment: dev, region: eu-west-1, projects: [team-a]}
namespaces:
  - namespace: team-a-web
  - namespace: payments
clusterRoles:
  - {name: reader, rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}
addons:
  - name: web
    namespace: team-a-web
    project: team-a
    chart: {repoURL: "https://charts.example.com/web", chart: web, version: "1.0.0"}
`
	set := policy.Set{mustParse(t, readTestdata(t, "strict.yaml"))}
	got := problems(t, func() error { _, err := renderLayer(t, layer, "team-a-dev", set); return err }())
	want := []string{
		"cluster/team-a-dev: addons[web].chart.repoURL: Application argocd/team-a-dev-web installs from https://charts.example.com/web, not a repository the layer's Applications may use: refused by policy team-a; to allow it, add https://charts.example.com/web to addons.sourceRepos of policy team-a",
		"cluster/team-a-dev: clusterRoles[reader].kind: ClusterRole reader: the kind rbac.authorization.k8s.io/ClusterRole is not one of the kinds the layer may render: refused by policy team-a; to allow it, add rbac.authorization.k8s.io/ClusterRole to kinds of policy team-a",
		"cluster/team-a-dev: namespaces[payments].namespace: Namespace payments is in namespace payments, not one the layer may render into: refused by policy team-a; to allow it, add payments to namespaces of policy team-a",
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

// renderComponents renders the components of layers (cluster c1) under the default policy.
func renderComponents(t *testing.T, layers []config.Layer, components ...string) (*render.Manifests, error) {
	t.Helper()
	return ops.Render(layers, "c1", nil, render.Options{Components: components}, nil)
}
