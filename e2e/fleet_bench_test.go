package e2e

// The fleet benchmark (make bench-fleet; docs/performance.md "A fleet through the real Argo
// CD"): N clusters (BENCH_CLUSTERS, default 50) of 7 objects each, two contenders on one Argo
// CD v3.6 control plane, measured in one run, interleaved (A, B, A, B …):
//
//   - A, dynamo-cmp: the example ApplicationSet with serve's plugin generator (pinned
//     configVersion), the CMP sidecar running `dynamo-cmp generate`, serve following Argo CD;
//   - B, kustomize from Git: the same 7 objects per cluster as a kustomize directory per
//     cluster in a Git repository, Argo CD's native kustomize, one Application per cluster,
//     and a refresh of every Application right after each commit (what Argo CD's Git
//     webhook handler does; it cannot match a file:// repoURL, so the benchmark does it).
//
// Every "cluster" is an Argo CD cluster Secret whose URL is a TCP proxy to the one
// kube-apiserver (Argo CD keys clusters by URL), so object names carry the contender and the
// cluster (fa-c-007, fb-c-007), and argocd-cm's resource.inclusions lists the kinds rendered,
// for both alike. Figures: bring-up to all Synced/Healthy; a global change (every quota's cpu)
// → first and all clusters changed; CPU by process group from /proc; DynamoDB calls and
// consumed capacity per change (a counting proxy in front of DynamoDB Local, one per client);
// and a change scoped to BENCH_SCOPED clusters (default 5; 0 skips it): A publishes env/test,
// B commits k overlays, refreshing every Application (no manifest-generate-paths) or, with
// argocd.argoproj.io/manifest-generate-paths, only those the commit touched (what the webhook
// handler does then). Printed as Markdown tables, never asserted. Skipped unless
// DYNAMO_CMP_BENCH_FLEET is set.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ktypes "k8s.io/apimachinery/pkg/types"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const fleetTable = "fleet"

// fleetInclusions is argocd-cm's resource.inclusions: the kinds both contenders render.
const fleetInclusions = `- apiGroups: [""]
  kinds: [Namespace, ResourceQuota, LimitRange]
  clusters: ["*"]
- apiGroups: [rbac.authorization.k8s.io]
  kinds: [Role, RoleBinding]
  clusters: ["*"]
- apiGroups: [networking.k8s.io]
  kinds: [NetworkPolicy]
  clusters: ["*"]
`

// fleetGlobal is A's global layer: the 7 objects of every cluster (Namespace, ResourceQuota,
// LimitRange, two NetworkPolicies, Role, RoleBinding), the quota's cpu being what changes.
func fleetGlobal(prefix, cpu string) string {
	return `layer: global
namespaces:
  - namespace: "` + prefix + `${cluster.name}"
    labels: {team: fleet}
    resourceQuota: {cpu: "` + cpu + `", memory: 8Gi}
    limitRange:
      container: {default: {cpu: 500m}, defaultRequest: {cpu: 100m}}
    defaultDeny: {allowDNS: true}
    roles:
      - name: fleet-dev
        rules: [{apiGroups: [""], resources: [pods, services, configmaps], verbs: [get, list, watch]}]
    roleBindings:
      - name: fleet-dev
        roleRef: {kind: Role, name: fleet-dev}
        subjects: [{kind: Group, name: fleet-developers}]
    networkPolicies:
      - name: allow-https
        podSelector: {}
        policyTypes: [Ingress]
        ingress: [{ports: [{protocol: TCP, port: 443}]}]
`
}

// fleetContender is one way of delivering the fleet's configuration.
type fleetContender struct {
	name, short string
	prefix      string // of the namespaces it renders: fa-<cluster>, fb-<cluster>
	appSuffix   string // of its Applications: <cluster>-bootstrap, <cluster>-kustomize
	want        map[string]string
}

type fleetBench struct {
	n, k     int
	clusters []string // c-000 …; the first k are in environment test, the rest in dev
	kube     *harness.KubeAPI
	argo     *harness.ArgoCD
	repoB    *harness.GitRepo
	bFiles   map[string]string // B's objects.yaml per cluster (path in repoB → content)
	dir      string
	cliEnv   []string
	// directEnv reads DynamoDB Local directly (the benchmark's own reads are not counted).
	directEnv []string
	ddb       []*ddbCounter // generate (the sidecar), serve, publish (the operator's CLI)
	a, b      *fleetContender
	serve     *fleetServe
	repoAURL  string // A's placeholder repository
	// envTestCPU is the quota cpu env/test overrides ("" until the scoped changes).
	envTestCPU string
}

func TestFleetBench(t *testing.T) {
	if os.Getenv("DYNAMO_CMP_BENCH_FLEET") == "" {
		t.Skip("make bench-fleet runs it (DYNAMO_CMP_BENCH_FLEET=1, BENCH_CLUSTERS, BENCH_CHANGES, BENCH_SCOPED, BENCH_SCOPED_CHANGES)")
	}
	n := envInt(t, "BENCH_CLUSTERS", 50)
	changes := envInt(t, "BENCH_CHANGES", 5)
	k := 5
	if v := os.Getenv("BENCH_SCOPED"); v != "" {
		k, _ = strconv.Atoi(v)
	}
	k = min(max(k, 0), n)
	scopedChanges := envInt(t, "BENCH_SCOPED_CHANGES", changes)
	loadStart := loadAvg()
	f := startFleet(t, n, k)

	var report fleetReport
	report.n, report.k, report.changes = n, k, changes
	idle := f.idleServe(t, 30*time.Second)
	report.serveIdle = idle

	report.bringUp[0] = f.measure(t, f.a, f.clusters, func() { f.applyA(t) })
	report.bringUp[1] = f.measure(t, f.b, f.clusters, func() { f.applyB(t) })
	for i := range changes {
		cpu := strconv.Itoa(100 + i)
		report.global[0] = append(report.global[0], f.measure(t, f.a, f.clusters, func() { f.publishGlobalA(t, cpu) }))
		report.global[1] = append(report.global[1], f.measure(t, f.b, f.clusters, func() { f.commitB(t, f.clusters, cpu, f.b.apps(f.clusters)) }))
	}
	if k > 0 {
		scoped := f.clusters[:k]
		for i := range scopedChanges {
			cpu := strconv.Itoa(200 + i)
			report.scoped[0] = append(report.scoped[0], f.measure(t, f.a, scoped, func() { f.publishEnvTestA(t, cpu) }))
			report.scoped[1] = append(report.scoped[1], f.measure(t, f.b, scoped, func() { f.commitB(t, scoped, cpu, f.b.apps(f.clusters)) }))
		}
		f.annotateGeneratePaths(t)
		for i := range scopedChanges {
			cpu := strconv.Itoa(300 + i)
			report.scoped[2] = append(report.scoped[2], f.measure(t, f.b, scoped, func() { f.commitB(t, scoped, cpu, f.b.apps(scoped)) }))
		}
	}
	report.probes = f.capacityProbes(t)
	report.load = [2]string{loadStart, loadAvg()}
	report.print()
}

// capacityProbe is what one operation cost in DynamoDB.
type capacityProbe struct {
	what string
	ddbStats
}

// capacityProbes runs, through the operator's counting proxy, what a sidecar runs (generate
// pinned, as the ApplicationSet passes it, and latest) and the publishes of each layer kind,
// one at a time, for docs/performance.md's cost table.
func (f *fleetBench) capacityProbes(t *testing.T) []capacityProbe {
	t.Helper()
	c := f.clusters[f.n-1] // a dev cluster
	app := f.argo.Application(t, c+f.a.appSuffix)
	params, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "plugin", "parameters")
	pinned := map[string]string{}
	for _, p := range params {
		m, _ := p.(map[string]any)
		if s, ok := m["string"].(string); ok {
			pinned[m["name"].(string)] = s
		}
	}
	var probes []capacityProbe
	probe := func(what string, run func()) {
		before := f.ddb[2].snapshot()
		run()
		probes = append(probes, capacityProbe{what, f.ddb[2].snapshot().minus(before)})
	}
	generate := func(params []map[string]string) func() {
		return func() {
			p, _ := json.Marshal(params)
			cmd := exec.Command(harness.DynamoCmpPath(t), "generate")
			cmd.Env = append(slices.Clone(f.cliEnv), "HOME="+f.dir, "ARGOCD_APP_NAME="+c+f.a.appSuffix, "ARGOCD_APP_NAMESPACE=default",
				"ARGOCD_APP_PROJECT_NAME=platform", "ARGOCD_APP_REVISION=0123456789abcdef0123456789abcdef01234567",
				"ARGOCD_APP_SOURCE_REPO_URL="+f.repoAURL, "ARGOCD_APP_SOURCE_PATH=dynamo-cmp", "ARGOCD_APP_SOURCE_TARGET_REVISION=HEAD",
				"ARGOCD_APP_PARAMETERS="+string(p), "KUBE_VERSION=1.34.4")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("generate %s: %v\n%.2000s", p, err, out)
			}
		}
	}
	probe("generate, configVersion pinned (7 objects, 3 layers)", generate([]map[string]string{
		{"name": "cluster", "string": c}, {"name": "environment", "string": pinned["environment"]}, {"name": "configVersion", "string": pinned["configVersion"]}}))
	probe("generate, latest (environment unknown)", generate([]map[string]string{{"name": "cluster", "string": c}}))
	probe("publish global (one namespace entry)", func() { f.publish(t, "global", fleetGlobal(f.a.prefix, "999")) })
	probe("publish env/dev (one namespace entry)", func() {
		f.publish(t, "env/dev", "layer: env/dev\nnamespaces:\n  - namespace: \""+f.a.prefix+"${cluster.name}\"\n    labels: {probe: \"1\"}\n")
	})
	probe("publish cluster/"+c+" (the cluster record)", func() {
		f.publish(t, "cluster/"+c, "layer: cluster/"+c+"\ncluster: {environment: dev, region: eu-west-1, projects: [platform], labels: {probe: \"1\"}}\n")
	})
	return probes
}

func startFleet(t *testing.T, n, k int) *fleetBench {
	t.Helper()
	bin := harness.BuildDynamoCmp(t)
	harness.ArgoCDBinDir(t)
	kustomize := kustomizeDir(t)
	f := &fleetBench{n: n, k: k, dir: t.TempDir(), bFiles: map[string]string{},
		a: &fleetContender{name: "A: dynamo-cmp", short: "A", prefix: "fa-", appSuffix: "-bootstrap", want: map[string]string{}},
		b: &fleetContender{name: "B: kustomize from Git", short: "B", prefix: "fb-", appSuffix: "-kustomize", want: map[string]string{}}}
	for i := range n {
		f.clusters = append(f.clusters, fmt.Sprintf("c-%03d", i))
	}
	f.kube = harness.StartKubeAPIServer(t)
	if _, err := f.kube.Clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db := harness.StartDynamoDB(t)
	for _, name := range []string{"generate", "serve", "publish"} {
		f.ddb = append(f.ddb, startDDBCounter(t, name, db.Endpoint))
	}
	f.cliEnv = harness.DynamoEnv(f.ddb[2].url, fleetTable)
	f.directEnv = harness.DynamoEnv(db.Endpoint, fleetTable)
	f.cli(t, "table", "create")

	cm, policy := serveRBACFromDocs(t)
	cm["resource.inclusions"] = fleetInclusions
	f.argo = harness.StartArgoCD(t, f.kube, harness.ArgoCDOptions{
		PluginDir:      harness.PluginDir(t),
		PluginEnv:      append(harness.DynamoEnv(f.ddb[0].url, fleetTable), harness.PathWith(bin)),
		RepoServerPath: []string{kustomize},
		ConfigData:     map[string]map[string]string{"argocd-cm": cm, "argocd-rbac-cm": {"policy.csv": policy}},
	})
	// The clusters: one TCP proxy each to the one API server (TLS passes through; its
	// certificate's IP SAN 127.0.0.1 verifies on any port).
	cfg, _ := json.Marshal(map[string]any{"bearerToken": f.kube.Config.BearerToken,
		"tlsClientConfig": map[string]any{"caData": f.kube.Config.CAData, "insecure": false}})
	for _, c := range f.clusters {
		p := harness.StartTCPProxy(t, strings.TrimPrefix(f.kube.Config.Host, "https://"))
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + c, Namespace: "argocd",
			Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster"}},
			StringData: map[string]string{"name": c, "server": "https://" + p.Addr, "config": string(cfg)}}
		if _, err := f.kube.Clientset.CoreV1().Secrets("argocd").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// A's layers: global (the 7 objects), env/dev and env/test (empty until the scoped
	// changes), one cluster record per cluster.
	layers := map[string]string{"global": fleetGlobal(f.a.prefix, "40"), "env/dev": "layer: env/dev\n", "env/test": "layer: env/test\n"}
	for i, c := range f.clusters {
		env := "dev"
		if i < k {
			env = "test"
		}
		layers["cluster/"+c] = "layer: cluster/" + c + "\ncluster: {environment: " + env + ", region: eu-west-1, projects: [platform]}\n"
	}
	began := time.Now()
	for _, name := range slices.Sorted(maps.Keys(layers)) {
		f.publish(t, name, layers[name])
	}
	t.Logf("published %d layers in %s", len(layers), time.Since(began).Round(time.Millisecond))
	for _, c := range f.clusters {
		f.a.want[c], f.b.want[c] = "40", "40"
	}

	// B's repository: what A renders for each cluster (render -f, from the same layer files),
	// with B's names, one kustomize directory per cluster.
	layerDir := filepath.Join(f.dir, "layers-b")
	for name, text := range layers {
		if name == "global" {
			text = fleetGlobal(f.b.prefix, "40")
		}
		writeFile(t, filepath.Join(mustDir(t, layerDir), strings.ReplaceAll(name, "/", "-")+".yaml"), text)
	}
	files := map[string]string{}
	for _, c := range f.clusters {
		out, errOut, err := harness.RunDynamoCmp(t, nil, "render", "-f", layerDir, "--cluster", c,
			"--components", "namespaces,rbac,network,calico,manifests", "-o", "yaml")
		if err != nil {
			t.Fatalf("render %s: %v\n%s", c, err, errOut)
		}
		f.bFiles[bPath(c)] = out
		files[bPath(c)] = out
		files["fleet-b/"+c+"/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [objects.yaml]\n"
	}
	f.repoB = harness.NewGitRepo(t, files)
	repoA := harness.NewGitRepo(t, map[string]string{"dynamo-cmp/README.md": "Rendered by dynamo-cmp from DynamoDB; nothing here is read.\n"})
	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"),
		"- https://git.example.com/platform/bootstrap.git", "- "+repoA.URL+"\n    - "+f.repoB.URL)
	f.argo.ApplyYAML(t, project)
	f.repoAURL = repoA.URL

	// serve, as docs/serve.md installs it: the generator Secret and ConfigMap, the Kubernetes
	// API (to refresh the ApplicationSet on a publish) and Argo CD's API (to follow rollouts).
	genToken := "bench-generator-token-0123456789abcdef"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dynamo-cmp-generator", Namespace: "argocd",
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}}, StringData: map[string]string{"token": genToken}}
	if _, err := f.kube.Clientset.CoreV1().Secrets("argocd").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	argoToken := f.argo.GenerateToken(t, "dynamo-cmp")
	env := append(harness.DynamoEnv(f.ddb[1].url, fleetTable), "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	f.serve = startFleetServe(t, harness.DynamoCmpPath(t), env,
		"--generator-token-file", writeSecret(t, f.dir, "generator-token", genToken),
		"--kube-url", f.kube.Config.Host, "--kube-token-file", writeSecret(t, f.dir, "kube-token", f.kube.Config.BearerToken),
		"--kube-ca-file", serverCA(t, f.kube.Config.Host, filepath.Join(f.dir, "kube-ca.crt")), "--namespaces", "argocd",
		"--argocd-url", f.argo.URL, "--argocd-token-file", writeSecret(t, f.dir, "argocd-token", argoToken), "--allow-insecure-http")
	cmYAML := replaceLine(t, readRepoFile(t, "manifests/serve/configmap.yaml"),
		"baseUrl: http://dynamo-cmp-generator.argocd.svc:8080", "baseUrl: "+f.serve.base)
	f.argo.ApplyYAML(t, strings.Replace(cmYAML, "metadata:\n", "metadata:\n  namespace: argocd\n", 1))
	return f
}

func bPath(cluster string) string { return "fleet-b/" + cluster + "/objects.yaml" }

func mustDir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// kustomizeDir is the directory of the kustomize binary Argo CD's repo-server runs (its image
// has one in /usr/local/bin): DYNAMO_CMP_KUSTOMIZE_DIR (scripts/bench-fleet.sh builds it), or
// the one on PATH.
func kustomizeDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("DYNAMO_CMP_KUSTOMIZE_DIR"); d != "" {
		return d
	}
	p, err := exec.LookPath("kustomize")
	if err != nil {
		t.Fatal("no kustomize: set DYNAMO_CMP_KUSTOMIZE_DIR (scripts/bench-fleet.sh does)")
	}
	return filepath.Dir(p)
}

func (f *fleetBench) cli(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("nice", append([]string{"-n", "5", harness.DynamoCmpPath(t)}, args...)...)
	cmd.Env = append(slices.Clone(f.cliEnv), "PATH="+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dynamo-cmp %s: %v\n%.2000s", strings.Join(args, " "), err, out)
	}
}

func (f *fleetBench) publish(t *testing.T, layer, text string) {
	t.Helper()
	file := filepath.Join(f.dir, strings.ReplaceAll(layer, "/", "-")+".yaml")
	writeFile(t, file, text)
	f.cli(t, "config", "publish", "-f", file, "--layer", layer, "-m", "bench", "--actor", "bench")
}

// applyA applies the example ApplicationSet (its Git repository the placeholder one).
func (f *fleetBench) applyA(t *testing.T) {
	appSet := replaceLine(t, readRepoFile(t, "manifests/examples/applicationset-plugin-generator.yaml"),
		"repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+f.repoAURL)
	f.argo.ApplyYAML(t, appSet)
}

// applyB creates one Application per cluster, with the example ApplicationSet's sync policy.
func (f *fleetBench) applyB(t *testing.T) {
	forEach(t, f.clusters, func(c string) error {
		_, err := f.kube.Dynamic.Resource(applicationGVR).Namespace("argocd").Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": c + f.b.appSuffix, "namespace": "argocd", "labels": map[string]any{"bench.dynamo-cmp.io/contender": "b"}},
			"spec": map[string]any{"project": "platform",
				"source":      map[string]any{"repoURL": f.repoB.URL, "targetRevision": "HEAD", "path": "fleet-b/" + c},
				"destination": map[string]any{"name": c},
				"syncPolicy": map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true},
					"retry": map[string]any{"limit": 3, "backoff": map[string]any{"duration": "10s", "factor": 2, "maxDuration": "2m"}}}},
		}}, metav1.CreateOptions{})
		return err
	})
}

func (f *fleetBench) publishGlobalA(t *testing.T, cpu string) {
	f.publish(t, "global", fleetGlobal(f.a.prefix, cpu))
	for _, c := range f.clusters[f.k:] {
		f.a.want[c] = cpu
	}
	if f.envTestCPU == "" {
		for _, c := range f.clusters[:f.k] {
			f.a.want[c] = cpu
		}
	}
}

// publishEnvTestA publishes env/test, overriding the quota's cpu of its k clusters.
func (f *fleetBench) publishEnvTestA(t *testing.T, cpu string) {
	f.publish(t, "env/test", "layer: env/test\nnamespaces:\n  - namespace: \""+f.a.prefix+"${cluster.name}\"\n    resourceQuota: {cpu: \""+cpu+"\"}\n")
	f.envTestCPU = cpu
	for _, c := range f.clusters[:f.k] {
		f.a.want[c] = cpu
	}
}

// commitB sets the quota's cpu of clusters in one commit, then refreshes refresh (as the
// webhook handler refreshes every Application of the repository, or with
// manifest-generate-paths those whose paths the commit touched).
func (f *fleetBench) commitB(t *testing.T, clusters []string, cpu string, refresh []string) {
	changed := map[string]string{}
	for _, c := range clusters {
		old := f.bFiles[bPath(c)]
		line := "    cpu: \"" + f.b.want[c] + "\"\n"
		if strings.Count(old, line) != 1 {
			t.Fatalf("%s: want one %q", bPath(c), line)
		}
		f.bFiles[bPath(c)] = strings.Replace(old, line, "    cpu: \""+cpu+"\"\n", 1)
		changed[bPath(c)] = f.bFiles[bPath(c)]
		f.b.want[c] = cpu
	}
	f.repoB.Commit(t, changed, "bench: quota cpu "+cpu)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"argocd.argoproj.io/refresh": "normal"}}})
	forEach(t, refresh, func(app string) error {
		_, err := f.kube.Dynamic.Resource(applicationGVR).Namespace("argocd").Patch(context.Background(), app, ktypes.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// annotateGeneratePaths gives B's Applications argocd.argoproj.io/manifest-generate-paths: .
// (their own directory), Argo CD's advice for monorepos.
func (f *fleetBench) annotateGeneratePaths(t *testing.T) {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"argocd.argoproj.io/manifest-generate-paths": "."}}})
	forEach(t, f.b.apps(f.clusters), func(app string) error {
		_, err := f.kube.Dynamic.Resource(applicationGVR).Namespace("argocd").Patch(context.Background(), app, ktypes.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

func (c *fleetContender) apps(clusters []string) []string {
	var out []string
	for _, cl := range clusters {
		out = append(out, cl+c.appSuffix)
	}
	return out
}

// forEach runs fn for every item, 8 at a time, and fails the test on the first error.
func forEach(t *testing.T, items []string, fn func(string) error) {
	t.Helper()
	work := make(chan string)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for it := range work {
				if err := fn(it); err != nil {
					errs <- fmt.Errorf("%s: %w", it, err)
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// fleetSample is one measured operation of one contender.
type fleetSample struct {
	first, all, settled time.Duration
	cpu                 map[string]time.Duration // by process group
	ddb                 []ddbStats               // by client, as f.ddb
	syncs               int                      // the contender's Applications that ran a sync operation
}

// measure waits until the contender is settled, runs change, and measures until every
// cluster of touched shows the contender's wanted quota cpu (first and all) and the contender
// is settled again.
func (f *fleetBench) measure(t *testing.T, c *fleetContender, touched []string, change func()) fleetSample {
	t.Helper()
	if len(f.appsOf(t, c)) > 0 {
		f.waitSettled(t, c)
	}
	ops0 := f.operations(t, c)
	cpu0, ddb0 := procGroupCPU(t), f.ddbSnapshot()
	began := time.Now()
	change()
	var s fleetSample
	deadline := began.Add(10 * time.Minute)
	for {
		q := f.quotas(t, c)
		n := 0
		for _, cl := range touched {
			if q[cl] == c.want[cl] {
				n++
			}
		}
		if n > 0 && s.first == 0 {
			s.first = time.Since(began)
		}
		if n == len(touched) {
			s.all = time.Since(began)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d clusters changed after 10 min", c.name, n, len(touched))
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.waitSettled(t, c)
	s.settled = time.Since(began)
	if c == f.a {
		f.waitServeRecorded(t, touched) // serve's writes of this change count with it
	}
	cpu1, ddb1 := procGroupCPU(t), f.ddbSnapshot()
	s.cpu = map[string]time.Duration{}
	for g, v := range cpu1 {
		s.cpu[g] = v - cpu0[g]
	}
	for i := range ddb1 {
		s.ddb = append(s.ddb, ddb1[i].minus(ddb0[i]))
	}
	for app, started := range f.operations(t, c) {
		if started != "" && started != ops0[app] {
			s.syncs++
		}
	}
	t.Logf("%s: first %s, all %d %s, settled %s, syncs %d, render CPU %s", c.name, s.first.Round(10*time.Millisecond),
		len(touched), s.all.Round(10*time.Millisecond), s.settled.Round(10*time.Millisecond), s.syncs, s.cpu[groupRender].Round(10*time.Millisecond))
	return s
}

// quotas maps each cluster to the cpu of the contender's ResourceQuota there.
func (f *fleetBench) quotas(t *testing.T, c *fleetContender) map[string]string {
	t.Helper()
	list, err := f.kube.Clientset.CoreV1().ResourceQuotas("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, q := range list.Items {
		if cl, ok := strings.CutPrefix(q.Namespace, c.prefix); ok {
			v := q.Spec.Hard[corev1.ResourceCPU]
			m[cl] = v.String()
		}
	}
	return m
}

func (f *fleetBench) appsOf(t *testing.T, c *fleetContender) []unstructured.Unstructured {
	t.Helper()
	var out []unstructured.Unstructured
	for _, app := range f.argo.Applications(t) {
		if strings.HasSuffix(app.GetName(), c.appSuffix) {
			out = append(out, app)
		}
	}
	return out
}

// operations maps each of the contender's Applications to the start of its last operation.
func (f *fleetBench) operations(t *testing.T, c *fleetContender) map[string]string {
	m := map[string]string{}
	for _, app := range f.appsOf(t, c) {
		m[app.GetName()], _, _ = unstructured.NestedString(app.Object, "status", "operationState", "startedAt")
	}
	return m
}

// waitSettled: all N Applications of the contender Synced and Healthy, no operation running,
// and every cluster's quota as wanted.
func (f *fleetBench) waitSettled(t *testing.T, c *fleetContender) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		apps := f.appsOf(t, c)
		ok := len(apps) == f.n
		why := fmt.Sprintf("%d Applications", len(apps))
		for _, app := range apps {
			st := harness.Status(&app)
			if st.Sync != "Synced" || st.Health != "Healthy" || st.OperationPhase == "Running" {
				ok, why = false, fmt.Sprintf("%s: %+v", app.GetName(), st)
				break
			}
		}
		if ok {
			q := f.quotas(t, c)
			for _, cl := range f.clusters {
				if q[cl] != c.want[cl] {
					ok, why = false, fmt.Sprintf("%s quota cpu %q, want %q", cl, q[cl], c.want[cl])
					break
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not settled within 10 min: %s", c.name, why)
		}
		time.Sleep(time.Second)
	}
}

// waitServeRecorded waits until `clusters status` (read straight from DynamoDB Local, not
// through a counting proxy) shows each cluster Synced and Healthy on the configVersion its
// Application pins: serve has recorded the change.
func (f *fleetBench) waitServeRecorded(t *testing.T, clusters []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pinned := map[string]string{}
		for _, app := range f.appsOf(t, f.a) {
			params, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "plugin", "parameters")
			for _, p := range params {
				if m, _ := p.(map[string]any); m["name"] == "configVersion" {
					pinned[strings.TrimSuffix(app.GetName(), f.a.appSuffix)], _ = m["string"].(string)
				}
			}
		}
		out, errOut, err := harness.RunDynamoCmp(t, f.directEnv, "clusters", "status", "-o", "json")
		if err != nil {
			t.Fatalf("clusters status: %v\n%s", err, errOut)
		}
		var list []struct {
			Cluster  string `json:"cluster"`
			Observed *struct {
				SyncedVersion string `json:"syncedVersion"`
			} `json:"observed"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		recorded := map[string]string{}
		for _, c := range list {
			if c.Observed != nil {
				recorded[c.Cluster] = c.Observed.SyncedVersion
			}
		}
		missing := ""
		for _, c := range clusters {
			if recorded[c] != pinned[c] {
				missing = fmt.Sprintf("%s recorded %q, pinned %q", c, recorded[c], pinned[c])
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve has not recorded the change within 3 min: %s", missing)
		}
		time.Sleep(time.Second)
	}
}

// idleServe measures what serve reads from DynamoDB while nothing changes.
func (f *fleetBench) idleServe(t *testing.T, window time.Duration) ddbStats {
	before := f.ddbSnapshot()[1]
	time.Sleep(window)
	d := f.ddbSnapshot()[1].minus(before)
	d.window = window
	return d
}

func (f *fleetBench) ddbSnapshot() []ddbStats {
	var out []ddbStats
	for _, d := range f.ddb {
		out = append(out, d.snapshot())
	}
	return out
}

// ---- DynamoDB calls and consumed capacity, counted by a proxy ----

// ddbCounter is a reverse proxy in front of DynamoDB Local that counts the calls by operation
// and sums the consumed capacity the answers carry (the store asks for it on every call:
// ReturnConsumedCapacity TOTAL; DynamoDB Local answers with CapacityUnits).
type ddbCounter struct {
	name string
	url  string
	mu   sync.Mutex
	st   ddbStats
}

type ddbStats struct {
	calls    map[string]int
	rcu, wcu float64
	window   time.Duration
}

func (s ddbStats) minus(o ddbStats) ddbStats {
	d := ddbStats{calls: map[string]int{}, rcu: s.rcu - o.rcu, wcu: s.wcu - o.wcu}
	for k, v := range s.calls {
		if v-o.calls[k] != 0 {
			d.calls[k] = v - o.calls[k]
		}
	}
	return d
}

func (s ddbStats) total() int {
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

var ddbWriteOps = map[string]bool{"PutItem": true, "BatchWriteItem": true, "TransactWriteItems": true, "UpdateItem": true, "DeleteItem": true}

func startDDBCounter(t *testing.T, name, endpoint string) *ddbCounter {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	d := &ddbCounter{name: name, st: ddbStats{calls: map[string]int{}}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Accept-Encoding")
		},
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
		ModifyResponse: func(resp *http.Response) error {
			op := resp.Request.Header.Get("X-Amz-Target")
			op = op[strings.LastIndexByte(op, '.')+1:]
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			var answer struct {
				ConsumedCapacity json.RawMessage
			}
			_ = json.Unmarshal(body, &answer)
			var ccs []struct{ CapacityUnits, ReadCapacityUnits, WriteCapacityUnits float64 }
			if len(answer.ConsumedCapacity) > 0 && answer.ConsumedCapacity[0] == '[' {
				_ = json.Unmarshal(answer.ConsumedCapacity, &ccs)
			} else if len(answer.ConsumedCapacity) > 0 {
				ccs = append(ccs, struct{ CapacityUnits, ReadCapacityUnits, WriteCapacityUnits float64 }{})
				_ = json.Unmarshal(answer.ConsumedCapacity, &ccs[0])
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			d.st.calls[op]++
			for _, cc := range ccs {
				r, w := cc.ReadCapacityUnits, cc.WriteCapacityUnits
				if r == 0 && w == 0 {
					if ddbWriteOps[op] {
						w = cc.CapacityUnits
					} else {
						r = cc.CapacityUnits
					}
				}
				d.st.rcu += r
				d.st.wcu += w
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	d.url = srv.URL
	return d
}

func (d *ddbCounter) snapshot() ddbStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.st
	s.calls = maps.Clone(d.st.calls)
	return s
}

// ---- CPU by process group, from /proc ----

const (
	groupRender     = "render (repo-server + sidecar + plugin/kustomize/git)"
	groupController = "application controller"
	groupAppSet     = "ApplicationSet controller"
	groupServer     = "argocd-server + redis"
	groupServe      = "dynamo-cmp serve"
	groupDynamo     = "DynamoDB Local"
	groupKube       = "kube-apiserver + etcd"
	groupDriver     = "benchmark driver (cluster proxies, polling)"
)

var fleetGroups = []string{groupRender, groupController, groupAppSet, groupServe, groupDynamo, groupKube, groupServer, groupDriver}

// procGroupCPU sums user+system CPU of this test's descendants by group, counting the CPU of
// reaped children (cutime, cstime) with their parent: a generate run by argocd-cmp-server, or
// git and kustomize run by argocd-repo-server, count with them once they exit, and with
// their own group while they run (a child classifies as its nearest classified ancestor).
func procGroupCPU(t *testing.T) map[string]time.Duration {
	t.Helper()
	type proc struct {
		ppid  int
		group string
		ticks int64
	}
	procs := map[int]*proc{}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		open, closeP := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeP < 0 {
			continue
		}
		comm := s[open+1 : closeP]
		fs := strings.Fields(s[closeP+2:])
		ppid, _ := strconv.Atoi(fs[1])
		var ticks int64
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(fs[i], 10, 64)
			if pid == self && i > 12 {
				continue // the test's own children (CLI runs, git) are the driver's work, not counted
			}
			ticks += v
		}
		p := &proc{ppid: ppid, ticks: ticks}
		switch {
		case pid == self:
			p.group = groupDriver
		case comm == "java":
			p.group = groupDynamo
		case comm == "kube-apiserver" || comm == "etcd":
			p.group = groupKube
		case comm == "redis-server":
			p.group = groupServer
		case comm == "dynamo-cmp":
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmdline, []byte("\x00serve\x00")) {
				p.group = groupServe
			}
		}
		if p.group == "" {
			environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			for _, kv := range bytes.Split(environ, []byte{0}) {
				if v, ok := bytes.CutPrefix(kv, []byte("ARGOCD_BINARY_NAME=")); ok {
					switch string(v) {
					case harness.ArgoRepoServer, harness.ArgoCMPServer:
						p.group = groupRender
					case harness.ArgoAppController:
						p.group = groupController
					case harness.ArgoAppSetCtrl:
						p.group = groupAppSet
					case harness.ArgoAPIServer:
						p.group = groupServer
					}
				}
			}
		}
		procs[pid] = p
	}
	out := map[string]time.Duration{}
	for pid, p := range procs {
		g, q, descendant := p.group, p, pid == self
		for q != nil && !descendant {
			if g == "" {
				g = q.group
			}
			if q.ppid == self {
				descendant = true
				break
			}
			q = procs[q.ppid]
		}
		if !descendant || g == "" {
			continue
		}
		out[g] += time.Duration(p.ticks) * 10 * time.Millisecond // USER_HZ = 100
	}
	return out
}

func loadAvg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ---- the report ----

type fleetReport struct {
	n, k, changes int
	bringUp       [2]fleetSample
	global        [2][]fleetSample
	scoped        [3][]fleetSample // A, B refreshing all, B with manifest-generate-paths
	serveIdle     ddbStats
	probes        []capacityProbe
	load          [2]string
}

func durs(ss []fleetSample, f func(fleetSample) time.Duration) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		out = append(out, f(s))
	}
	slices.Sort(out)
	return out
}

func p50max(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f s (%.2f s)", d[len(d)/2].Seconds(), d[len(d)-1].Seconds())
}

func meanCPU(ss []fleetSample, g string) float64 {
	if len(ss) == 0 {
		return 0
	}
	var sum time.Duration
	for _, s := range ss {
		sum += s.cpu[g]
	}
	return sum.Seconds() / float64(len(ss))
}

func meanInt(ss []fleetSample, f func(fleetSample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range ss {
		sum += f(s)
	}
	return sum / float64(len(ss))
}

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// ddbLine is a client's DynamoDB work averaged over the samples: calls by operation, RCU, WCU.
func ddbLine(ss []fleetSample, client int) string {
	if len(ss) == 0 {
		return "—"
	}
	calls := map[string]float64{}
	var rcu, wcu float64
	for _, s := range ss {
		for op, v := range s.ddb[client].calls {
			calls[op] += float64(v) / float64(len(ss))
		}
		rcu += s.ddb[client].rcu / float64(len(ss))
		wcu += s.ddb[client].wcu / float64(len(ss))
	}
	if len(calls) == 0 {
		return "none"
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(calls)) {
		parts = append(parts, fmt.Sprintf("%.1f %s", calls[op], op))
	}
	return fmt.Sprintf("%s; %.1f RCU, %.1f WCU", strings.Join(parts, ", "), rcu, wcu)
}

func (r fleetReport) print() {
	w := os.Stdout
	fmt.Fprintf(w, "\n### bench-fleet: %d clusters × 7 objects, Argo CD %s, one kube-apiserver\n\n", r.n, harness.ArgoCDVersion())
	fmt.Fprintf(w, "Machine: %d CPUs (shared), %s; load average %s at the start, %s at the end. %d changes per contender, interleaved (A, B, A, B …).\n\n",
		runtime.NumCPU(), runtime.Version(), r.load[0], r.load[1], r.changes)
	g := r.global
	fmt.Fprintln(w, "| | A: dynamo-cmp | B: kustomize from Git | A/B |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	row := func(name, a, b, ab string) { fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, a, b, ab) }
	ua, ub := r.bringUp[0], r.bringUp[1]
	row("bring-up → all Synced/Healthy", fmt.Sprintf("%.1f s", ua.settled.Seconds()), fmt.Sprintf("%.1f s", ub.settled.Seconds()), ratio(ua.settled.Seconds(), ub.settled.Seconds()))
	row("bring-up: render CPU", fmt.Sprintf("%.2f s", ua.cpu[groupRender].Seconds()), fmt.Sprintf("%.2f s", ub.cpu[groupRender].Seconds()), ratio(ua.cpu[groupRender].Seconds(), ub.cpu[groupRender].Seconds()))
	allA, allB := durs(g[0], func(s fleetSample) time.Duration { return s.all }), durs(g[1], func(s fleetSample) time.Duration { return s.all })
	firstA, firstB := durs(g[0], func(s fleetSample) time.Duration { return s.first }), durs(g[1], func(s fleetSample) time.Duration { return s.first })
	med := func(d []time.Duration) float64 {
		if len(d) == 0 {
			return 0
		}
		return d[len(d)/2].Seconds()
	}
	row("global change → all clusters changed, p50 (max)", p50max(allA), p50max(allB), ratio(med(allA), med(allB)))
	row("global change → first cluster changed, p50 (max)", p50max(firstA), p50max(firstB), ratio(med(firstA), med(firstB)))
	for _, grp := range fleetGroups {
		a, b := meanCPU(g[0], grp), meanCPU(g[1], grp)
		row("CPU per global change: "+grp, fmt.Sprintf("%.2f s", a), fmt.Sprintf("%.2f s", b), ratio(a, b))
	}
	ta, tb := 0.0, 0.0
	for _, grp := range fleetGroups[:len(fleetGroups)-1] {
		ta, tb = ta+meanCPU(g[0], grp), tb+meanCPU(g[1], grp)
	}
	row("CPU per global change, all but the driver", fmt.Sprintf("%.2f s", ta), fmt.Sprintf("%.2f s", tb), ratio(ta, tb))
	sy := func(s fleetSample) float64 { return float64(s.syncs) }
	row("Applications that synced per global change", fmt.Sprintf("%.1f", meanInt(g[0], sy)), fmt.Sprintf("%.1f", meanInt(g[1], sy)), "")
	for i, d := range []string{"generate (sidecar)", "serve", "publish (CLI)"} {
		row("DynamoDB per global change: "+d, ddbLine(g[0], i), "—", "")
	}
	fmt.Fprintf(w, "\nserve idle: %s in %s (%s).\n", ddbLineStats(r.serveIdle), r.serveIdle.window, "no change, no rollout")
	fmt.Fprintln(w, "\n| one operation, alone | DynamoDB calls | RCU | WCU |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: |")
	for _, p := range r.probes {
		var parts []string
		for _, op := range slices.Sorted(maps.Keys(p.calls)) {
			parts = append(parts, fmt.Sprintf("%d %s", p.calls[op], op))
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f |\n", p.what, strings.Join(parts, ", "), p.rcu, p.wcu)
	}
	if r.k == 0 {
		return
	}
	s := r.scoped
	fmt.Fprintf(w, "\n#### A change of %d of the %d clusters (A: env/test published; B: one commit touching %d overlays)\n\n", r.k, r.n, r.k)
	fmt.Fprintln(w, "| | A: dynamo-cmp | B: refresh of every Application | B: manifest-generate-paths, touched refreshed |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
	row3 := func(name string, f func([]fleetSample) string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, f(s[0]), f(s[1]), f(s[2]))
	}
	row3(fmt.Sprintf("change → all %d changed, p50 (max)", r.k), func(ss []fleetSample) string {
		return p50max(durs(ss, func(x fleetSample) time.Duration { return x.all }))
	})
	row3("change → first changed, p50 (max)", func(ss []fleetSample) string {
		return p50max(durs(ss, func(x fleetSample) time.Duration { return x.first }))
	})
	for _, grp := range fleetGroups {
		row3("CPU per change: "+grp, func(ss []fleetSample) string { return fmt.Sprintf("%.2f s", meanCPU(ss, grp)) })
	}
	row3("Applications that synced per change", func(ss []fleetSample) string { return fmt.Sprintf("%.1f", meanInt(ss, sy)) })
	for i, d := range []string{"generate (sidecar)", "serve", "publish (CLI)"} {
		fmt.Fprintf(w, "| DynamoDB per change: %s | %s | — | — |\n", d, ddbLine(s[0], i))
	}
}

func ddbLineStats(s ddbStats) string {
	return ddbLine([]fleetSample{{ddb: []ddbStats{{}, s, {}}}}, 1)
}
