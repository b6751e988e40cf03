package importer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func cluster(t *testing.T, name, env, region, manifests string) ClusterInput {
	t.Helper()
	objs, err := ParseManifests(name, name+".yaml", []byte(manifests))
	if err != nil {
		t.Fatal(err)
	}
	return ClusterInput{Record: config.Cluster{Name: name, Environment: env, Region: region, Projects: []string{"platform"}}, Objects: objs}
}

const teamNS = `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {team: a, cluster: %NAME%}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: team-a}
spec:
  hard: {cpu: "%CPU%", memory: 8Gi}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: team-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-info, namespace: team-a}
data: {name: %NAME%, region: %REGION%, literal: "${not.a.var}"}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-metadata}
spec:
  order: 10
  selector: all()
  types: [Egress]
  egress: [{action: Deny, destination: {nets: [169.254.169.254/32]}}, {action: Pass}]
`

func fleetCluster(t *testing.T, name, env, region, cpu string) ClusterInput {
	s := strings.NewReplacer("%NAME%", name, "%REGION%", region, "%CPU%", cpu).Replace(teamNS)
	return cluster(t, name, env, region, s)
}

func importAndProve(t *testing.T, clusters []ClusterInput) (*Result, string) {
	t.Helper()
	res, err := Import(clusters, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	if err := res.Prove(dir, nil); err != nil {
		t.Fatal(err)
	}
	return res, dir
}

func TestImportFactorsAFleet(t *testing.T) {
	res, dir := importAndProve(t, []ClusterInput{
		fleetCluster(t, "dev-eu1", "dev", "eu-west-1", "4"),
		fleetCluster(t, "dev-us1", "dev", "us-east-1", "4"),
		fleetCluster(t, "prod-eu1", "prod", "eu-west-1", "16"),
		fleetCluster(t, "prod-us1", "prod", "us-east-1", "16"),
	})
	global, _ := os.ReadFile(filepath.Join(dir, "global.yaml"))
	prod, _ := os.ReadFile(filepath.Join(dir, "env", "prod.yaml"))
	cl, _ := os.ReadFile(filepath.Join(dir, "cluster", "prod-eu1.yaml"))
	t.Logf("global:\n%s\nenv/prod:\n%s\ncluster/prod-eu1:\n%s\n%s", global, prod, cl, res.Report)
	for _, want := range []string{"cluster: ${cluster.name}", "region: ${cluster.region}", "literal: $${not.a.var}", "deny-metadata"} {
		if !strings.Contains(string(global), want) {
			t.Errorf("global.yaml lacks %q", want)
		}
	}
	// The quota differs between the environments only: one env layer overrides its cpu, and
	// nothing else (which one depends on the tie-break; both are as small).
	dev, _ := os.ReadFile(filepath.Join(dir, "env", "dev.yaml"))
	over := string(prod) + string(dev)
	if strings.Count(over, "cpu:") != 1 || strings.Contains(over, "memory") || strings.Contains(over, "team: a") {
		t.Errorf("one env layer should override only the cpu:\n%s", over)
	}
	if strings.Contains(string(cl), "namespaces") {
		t.Errorf("cluster/prod-eu1.yaml should hold only the record:\n%s", cl)
	}
}

// TestImportAddons: add-on Applications, named as dynamo-cmp names them for each cluster,
// become one add-on entry for the fleet.
func TestImportAddons(t *testing.T) {
	app := func(cluster, addon, extra string) string {
		return `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: ` + config.AddonApplicationName(cluster, addon) + `, namespace: argocd}
spec:
  project: platform
  source:
    repoURL: https://charts.example.com
    chart: ` + addon + `
    targetRevision: 1.2.3` + extra + `
  destination: {name: ` + cluster + `, namespace: ` + addon + `}
  syncPolicy: {automated: {prune: true, selfHeal: true}, syncOptions: [CreateNamespace=true]}
`
	}
	var clusters []ClusterInput
	for _, c := range []string{"dev-eu1", "prod-eu1"} {
		release := "\n    helm: {releaseName: " + c + "-ingress-nginx}"
		clusters = append(clusters, cluster(t, c, strings.Split(c, "-")[0], "eu-west-1", app(c, "logging", "")+"---"+app(c, "ingress-nginx", release)))
	}
	res, dir := importAndProve(t, clusters)
	global, _ := os.ReadFile(filepath.Join(dir, "global.yaml"))
	if res.Report.Typed != 4 || !strings.Contains(string(global), "addons:") || !strings.Contains(string(global), "name: ingress-nginx") || strings.Contains(string(global), "destination") {
		t.Errorf("add-on Applications were not imported as add-ons (typed %d):\n%s", res.Report.Typed, global)
	}
}

// TestImportDeletesWhatOneClusterLacks: an entry every cluster has but one is written once,
// in the lowest layer the others share, and deleted in the one cluster's layer — for the
// fleet (global) and for an environment of three clusters (env/<e>). One that two clusters of
// the fleet lack stays in the others' own layers, and one that is exactly one environment's
// goes to its env layer without a deletion.
func TestImportDeletesWhatOneClusterLacks(t *testing.T) {
	ns := func(name string) string {
		return "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + ", labels: {team: x}}\n"
	}
	cm := func(name string) string {
		return "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: tools}\ndata: {k: v}\n"
	}
	res, dir := importAndProve(t, []ClusterInput{
		cluster(t, "dev-a", "dev", "eu-west-1", ns("tools")+ns("dev-only")+ns("fleet-but-b")+cm("dev-but-c")+cm("some")),
		cluster(t, "dev-b", "dev", "eu-west-1", ns("tools")+ns("dev-only")+cm("dev-but-c")),
		cluster(t, "dev-c", "dev", "us-east-1", ns("tools")+ns("dev-only")+ns("fleet-but-b")),
		cluster(t, "prod-a", "prod", "eu-west-1", ns("tools")+ns("fleet-but-b")+cm("some")),
	})
	read := func(rel string) string {
		data, _ := os.ReadFile(filepath.Join(dir, rel))
		return string(data)
	}
	global, dev, b, c := read("global.yaml"), read("env/dev.yaml"), read("cluster/dev-b.yaml"), read("cluster/dev-c.yaml")
	t.Logf("global:\n%s\nenv/dev:\n%s\ncluster/dev-b:\n%s\ncluster/dev-c:\n%s\n%s", global, dev, b, c, res.Report)
	if !strings.Contains(global, "namespace: fleet-but-b") || !strings.Contains(b, "- $patch: delete\n  namespace: fleet-but-b\n") {
		t.Errorf("fleet-but-b should be in global once and deleted in cluster/dev-b")
	}
	if !strings.Contains(dev, "name: dev-but-c") || !strings.Contains(c, "name: dev-but-c") || !strings.Contains(c, "$patch: delete") {
		t.Errorf("dev-but-c should be in env/dev once and deleted in cluster/dev-c")
	}
	if !strings.Contains(dev, "namespace: dev-only") || strings.Contains(global, "dev-only") {
		t.Errorf("dev-only is every dev cluster's: env/dev, no deletion")
	}
	if strings.Contains(global+dev, "name: some") || !strings.Contains(read("cluster/dev-a.yaml"), "name: some") || !strings.Contains(read("cluster/prod-a.yaml"), "name: some") {
		t.Errorf("some (two clusters of four, one of three dev clusters) belongs to the clusters' own layers")
	}
	if res.Report.Deletions != 2 || !strings.Contains(res.Report.String(), "deleted (`$patch: delete`) in that cluster's layer: 2;") {
		t.Errorf("the report counts %d deletions, want 2:\n%s", res.Report.Deletions, res.Report)
	}
}

// TestImportAbstractsEnvAndVars: values that differ between clusters only by the cluster's
// environment or a free variable of its record are written once with ${env} or
// ${vars.<name>}, as ${cluster.name} is: no env or cluster layer has to override them.
func TestImportAbstractsEnvAndVars(t *testing.T) {
	obj := `
apiVersion: v1
kind: Namespace
metadata: {name: payments, labels: {environment: %ENV%, tier: %ENV%-critical}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: aws, namespace: payments}
data: {role: "arn:aws:iam::%ACCOUNT%:role/%ENV%-deployer", account: "%ACCOUNT%"}
`
	var in []ClusterInput
	for _, c := range []struct{ name, env, account string }{
		{"dev-eu1", "dev", "111111111111"}, {"dev-us1", "dev", "222222222222"}, {"prod-eu1", "prod", "333333333333"},
	} {
		ci := cluster(t, c.name, c.env, "eu-west-1", strings.NewReplacer("%ENV%", c.env, "%ACCOUNT%", c.account).Replace(obj))
		ci.Record.Vars = map[string]string{"account": c.account}
		in = append(in, ci)
	}
	res, dir := importAndProve(t, in)
	global, _ := os.ReadFile(filepath.Join(dir, "global.yaml"))
	t.Logf("global:\n%s\n%s", global, res.Report)
	for _, want := range []string{"environment: ${env}", "tier: ${env}-critical", "role: arn:aws:iam::${vars.account}:role/${env}-deployer", "account: ${vars.account}"} {
		if !strings.Contains(string(global), want) {
			t.Errorf("global.yaml lacks %q", want)
		}
	}
	for layer, n := range res.Report.Overrides {
		if n > 0 {
			t.Errorf("%s overrides %d entries; the variables should leave nothing to override", layer, n)
		}
	}
}
