package policy_test

import (
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

const record = "layer: cluster/c1\ncluster: {environment: dev, region: eu-west-1, projects: [platform]}\n"

// TestDefaultPolicy: what the default policy refuses and lets through, one configuration
// each; a refusal is checked by the start of its problem.
func TestDefaultPolicy(t *testing.T) {
	tests := []struct {
		name   string
		layers string
		want   []string // problem prefixes; none: it renders
	}{
		{"a binding of an ordinary role renders", record + `clusterRoleBindings:
  - {name: sre, roleRef: {kind: ClusterRole, name: view}, subjects: [{kind: Group, name: sre}]}
`, nil},
		{"a RoleBinding of cluster-admin in a namespace", record + `roleBindings:
  - {name: admins, namespace: web, roleRef: {kind: ClusterRole, name: cluster-admin}, subjects: [{kind: Group, name: web-admins}]}
`, []string{"cluster/c1: roleBindings[web/admins].roleRef.name: RoleBinding web/admins binds the ClusterRole cluster-admin"}},
		{"a ClusterRole that grants everything, and its binding", record + `clusterRoles:
  - {name: superuser, rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]}
clusterRoleBindings:
  - {name: su, roleRef: {kind: ClusterRole, name: superuser}, subjects: [{kind: User, name: alice}]}
`, []string{
			"cluster/c1: clusterRoleBindings[su].roleRef.name: ClusterRoleBinding su binds the ClusterRole superuser, which grants every verb on every resource",
			"cluster/c1: clusterRoles[superuser].rules: ClusterRole superuser grants every verb on every resource",
		}},
		{"a system user as a subject", record + `roleBindings:
  - {name: anon, namespace: web, roleRef: {kind: Role, name: reader}, subjects: [{kind: User, name: "system:anonymous"}]}
`, []string{"cluster/c1: roleBindings[web/anon].subjects[0].name: RoleBinding web/anon binds user system:anonymous"}},
		{"a Namespace named kube-system (its labels set pod security)", record + `namespaces:
  - {namespace: kube-system, labels: {pod-security.kubernetes.io/enforce: privileged}}
`, []string{"cluster/c1: namespaces[kube-system].namespace: Namespace kube-system is in namespace kube-system"}},
		{"a role in kube-public, from a namespace entry's nested roles", record + `roles:
  - {name: r, namespace: kube-public, rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}
`, []string{"cluster/c1: roles[kube-public/r].namespace: Role kube-public/r is in namespace kube-public"}},
		{"an Application in extra manifests", record + `manifests:
  - {apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: x, namespace: argocd}, spec: {project: platform, destination: {name: c1, namespace: web}, source: {repoURL: "https://git.example.com/x.git", path: .}}}
`, []string{"cluster/c1: manifests[Application/argocd/x].kind: Application argocd/x is an Argo CD object"}},
		{"an add-on to the cluster itself in its own project renders", record + `addons:
  - {name: web, namespace: web, project: platform, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, nil},
		{"an add-on without a project is in project default", record + `addons:
  - {name: web, namespace: web, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, []string{"cluster/c1: addons[web].project: Application argocd/c1-web is in Argo CD project default, and the cluster record of c1 names platform"}},
		{"an add-on of a cluster whose record names no projects", strings.Replace(record, ", projects: [platform]", "", 1) + `addons:
  - {name: web, namespace: web, project: platform, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, []string{"cluster/c1: addons[web].project: Application argocd/c1-web is in Argo CD project platform, and the cluster record of c1 names no projects"}},
		{"an add-on to another cluster", record + `addons:
  - {name: web, namespace: web, project: platform, destination: {name: c2}, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, []string{"cluster/c1: addons[web].destination: Application argocd/c1-web deploys to {name: c2, namespace: web}: an Application of cluster c1 must deploy to that cluster"}},
		{"an add-on to the hub by its server", record + `addons:
  - {name: web, namespace: web, project: platform, destination: {server: "https://kubernetes.default.svc"}, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, []string{"cluster/c1: addons[web].destination: Application argocd/c1-web deploys to {server: https://kubernetes.default.svc, namespace: web}"}},
		{"an add-on into kube-system of its cluster", record + `addons:
  - {name: web, namespace: kube-system, project: platform, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
`, []string{"cluster/c1: addons[web].destination: Application argocd/c1-web deploys to {name: c1, namespace: kube-system}: kube-* namespaces belong to Kubernetes"}},
		{"add-ons from metadata addresses in other spellings", record + `addons:
  - {name: a, namespace: web, project: platform, git: {repoURL: "http://2852039166/x.git", path: .}}
  - {name: b, namespace: web, project: platform, git: {repoURL: "https://[fd00:ec2::254]/x.git", path: .}}
  - {name: c, namespace: web, project: platform, git: {repoURL: "git@localhost:org/x.git", path: .}}
  - {name: d, namespace: web, project: platform, chart: {repoURL: "http://127.0.0.1:8080/charts", chart: d, version: "1"}}
`, []string{
			"cluster/c1: addons[a].git.repoURL: Application argocd/c1-a installs from http://2852039166/x.git, a link-local address",
			"cluster/c1: addons[b].git.repoURL: Application argocd/c1-b installs from https://[fd00:ec2::254]/x.git, the instance metadata address",
			"cluster/c1: addons[c].git.repoURL: Application argocd/c1-c installs from git@localhost:org/x.git, a local or instance metadata host",
			"cluster/c1: addons[d].chart.repoURL: Application argocd/c1-d installs from http://127.0.0.1:8080/charts, a loopback address",
		}},
		{"a patch that turns an add-on's project into default", record + `addons:
  - {name: web, namespace: web, project: platform, chart: {repoURL: "https://charts.example.com", chart: web, version: "1.0.0"}}
patches:
  - {name: escape, target: {kind: Application}, strategicMerge: {spec: {project: default}}}
`, []string{
			"cluster/c1: addons[web].project: Application argocd/c1-web is in Argo CD project default",
			"cluster/c1: patches[escape]: Application argocd/c1-web is in Argo CD project default, and the cluster record of c1 names platform (as patched)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderLayer(t, tt.layers, "c1", nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
				}
				return
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], w)
				}
			}
		})
	}
}

// TestEveryLayerThatWritesAnObjectIsJudged: a lower layer's policy may allow what a higher
// layer's does not; the higher layer may then not touch that object — changing its subjects
// would otherwise hand out what the lower layer's policy allowed for its own use. The layers
// refused alike make one problem.
func TestEveryLayerThatWritesAnObjectIsJudged(t *testing.T) {
	layers := `layer: global
clusterRoleBindings:
  - {name: break-glass, roleRef: {kind: ClusterRole, name: cluster-admin}, subjects: [{kind: Group, name: platform-admins}]}
---
layer: env/dev
---
` + record + `clusterRoleBindings:
  - {name: break-glass, subjects: [{kind: Group, name: team-a}]}
`
	set := policy.Set{mustParse(t, "name: platform\nlayers: [global]\nrbac: {roles: [cluster-admin]}\n")}
	got := problems(t, func() error { _, err := renderLayer(t, layers, "c1", set); return err }())
	want := "cluster/c1: clusterRoleBindings[break-glass].roleRef.name: ClusterRoleBinding break-glass binds the ClusterRole cluster-admin, which grants everything in the cluster: refused by the default policy (no policy applies to cluster/c1)"
	if len(got) != 1 || !strings.HasPrefix(got[0], want) {
		t.Errorf("got:\n%s\nwant one problem starting %s", strings.Join(got, "\n"), want)
	}
	// Without the cluster layer's change, global's policy allows it.
	if _, err := renderLayer(t, strings.Split(layers, "clusterRoleBindings:\n  - {name: break-glass, subjects")[0], "c1", set); err != nil {
		t.Errorf("global's own binding refused under its policy:\n%v", err)
	}
	// Under the default policy for every layer, global and the cluster layer are refused in
	// one problem.
	got = problems(t, func() error { _, err := renderLayer(t, layers, "c1", nil); return err }())
	if len(got) != 1 || !strings.HasPrefix(got[0], "global, cluster/c1: clusterRoleBindings[break-glass].roleRef.name: ") ||
		!strings.Contains(got[0], "no policy applies to global or cluster/c1") {
		t.Errorf("got:\n%s\nwant one problem of global and cluster/c1", strings.Join(got, "\n"))
	}
}

// TestWildcardsDoNotReachWhatTheDefaultRefuses: "*" in a policy's lists allows everything
// but what the default refuses; a pattern must name it.
func TestWildcardsDoNotReachWhatTheDefaultRefuses(t *testing.T) {
	layers := record + `namespaces:
  - namespace: kube-system
manifests:
  - {apiVersion: argoproj.io/v1alpha1, kind: AppProject, metadata: {name: p, namespace: argocd}, spec: {}}
addons:
  - {name: web, namespace: web, project: platform, destination: {name: in-cluster}, git: {repoURL: "http://169.254.169.254/x", path: .}}
`
	wide := mustParse(t, `name: wide
layers: ["*"]
kinds: ["*"]
namespaces: ["*"]
addons:
  projects: ["*"]
  destinations: [{name: "*"}, {server: "*"}]
  sourceRepos: ["*"]
`)
	got := problems(t, func() error { _, err := renderLayer(t, layers, "c1", policy.Set{wide}); return err }())
	for _, want := range []string{
		"cluster/c1: addons[web].destination: Application argocd/c1-web deploys to {name: in-cluster, namespace: web}: that is the cluster Argo CD runs on",
		"cluster/c1: addons[web].git.repoURL: Application argocd/c1-web installs from http://169.254.169.254/x, a link-local address",
		"cluster/c1: manifests[AppProject/argocd/p].kind: AppProject argocd/p is an Argo CD object",
		"cluster/c1: namespaces[kube-system].namespace: Namespace kube-system is in namespace kube-system",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, want)
		}
		if !found {
			t.Errorf("no problem starts %s; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 4 {
		t.Errorf("%d problems, want 4:\n%s", len(got), strings.Join(got, "\n"))
	}
	named := mustParse(t, `name: named
layers: ["*"]
kinds: ["*", "argoproj.io/*"]
namespaces: ["*", "kube-*"]
addons:
  projects: ["*"]
  destinations: [{name: in-cluster}]
  sourceRepos: ["http://169.254.169.254/*"]
`)
	if _, err := renderLayer(t, layers, "c1", policy.Set{named}); err != nil {
		t.Errorf("refused under a policy that names each thing:\n%v", err)
	}
}

// TestDestinationToken: ${cluster.name} in a destination pattern is the cluster being
// rendered, so one policy lets each cluster's layer deploy to its own cluster only.
func TestDestinationToken(t *testing.T) {
	p := mustParse(t, `name: own
layers: [cluster/*]
addons:
  destinations: [{name: "${cluster.name}", namespace: "team-*"}]
`)
	ok := record + `addons:
  - {name: web, namespace: team-web, project: platform, chart: {repoURL: "https://c.example.com", chart: w, version: "1"}}
`
	if _, err := renderLayer(t, ok, "c1", policy.Set{p}); err != nil {
		t.Errorf("refused:\n%v", err)
	}
	for _, bad := range []string{
		strings.Replace(ok, "namespace: team-web", "namespace: web", 1),
		strings.Replace(ok, "project: platform,", "project: platform, destination: {name: c2},", 1),
	} {
		if _, err := renderLayer(t, bad, "c1", policy.Set{p}); err == nil {
			t.Errorf("rendered:\n%s", bad)
		}
	}
}

// TestComponentsJudgeWhatTheyRender: generate with components judges the objects it renders;
// an Application split by component fails for the component holding the refused object.
func TestComponentsJudgeWhatTheyRender(t *testing.T) {
	layers := record + `namespaces: [{namespace: web}]
clusterRoleBindings:
  - {name: everyone, roleRef: {kind: ClusterRole, name: cluster-admin}, subjects: [{kind: Group, name: "system:authenticated"}]}
`
	ls, err := layerfile.ParseLayers("x", []byte(layers))
	if err != nil {
		t.Fatal(err)
	}
	for comp, refused := range map[string]bool{"namespaces": false, "rbac": true} {
		_, err := renderComponents(t, ls, comp)
		if (err != nil) != refused {
			t.Errorf("component %s: refused %v, want %v (%v)", comp, err != nil, refused, err)
		}
	}
}

// TestParseIsStrict: an unknown field is refused; every problem of a policy is listed at once,
// each naming its field.
func TestParseIsStrict(t *testing.T) {
	if _, err := policy.Parse([]byte("name: p\nlayers: [global]\nkind: [x]\n")); err == nil || !strings.Contains(err.Error(), `unknown field "kind"`) {
		t.Errorf("unknown field: %v", err)
	}
	_, err := policy.Parse([]byte(`name: P
layers: [cluster/Team, "cluster/a b*"]
namespaces: ["a/b", ""]
clusterScoped: [StorageClass]
kinds: ["a/b/c"]
addons:
  destinations: [{namespace: x}, {name: a, server: b}]
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`policy "P": name:`,
		`policy P: layers: layer "cluster/Team"`,
		`layer pattern "cluster/a b*"`,
		`policy P: kinds[0]: "a/b/c" has more than 1 "/"`,
		`policy P: namespaces[0]: "a/b" has more than 0 "/"`,
		`policy P: namespaces[1]: empty pattern`,
		`policy P: clusterScoped[0]: "StorageClass": write Kind/name or group/Kind/name`,
		`policy P: addons.destinations[0]: give name or server`,
		`policy P: addons.destinations[1]: give name or server, not both`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the problems do not include %s:\n%v", want, err)
		}
	}
	if _, err := policy.Parse([]byte("name: p\n")); err == nil || !strings.Contains(err.Error(), "layers: at least one layer pattern") {
		t.Errorf("no layers: %v", err)
	}
}

// TestFor: a layer gets the policy whose patterns match it most closely.
func TestFor(t *testing.T) {
	set := policy.Set{
		{Name: "all", Layers: []string{"*"}},
		{Name: "clusters", Layers: []string{"cluster/*"}},
		{Name: "team-a", Layers: []string{"cluster/team-a-*"}},
		{Name: "team-a-prod", Layers: []string{"cluster/team-a-prod-*"}},
		{Name: "one", Layers: []string{"cluster/team-a-prod-eu1"}},
		{Name: "envs", Layers: []string{"env/*"}},
	}
	for ref, want := range map[config.LayerRef]string{
		config.GlobalLayer:                     "all",
		config.EnvLayer("dev"):                 "envs",
		config.ClusterLayer("team-b-dev"):      "clusters",
		config.ClusterLayer("team-a-dev"):      "team-a",
		config.ClusterLayer("team-a-prod-us"):  "team-a-prod",
		config.ClusterLayer("team-a-prod-eu1"): "one",
	} {
		if got := set.For(ref); got == nil || got.Name != want {
			t.Errorf("%s: got %v, want %s", ref, got, want)
		}
	}
	if got := (policy.Set{{Name: "x", Layers: []string{"env/prod-*"}}}).For(config.ClusterLayer("prod-1")); got != nil {
		t.Errorf("an env pattern matched a cluster layer: %s", got.Name)
	}
}
