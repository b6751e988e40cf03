package e2e

// dynamo-cmp import against real components (issue 23).
//
// TestImportLiveCluster: one cluster of the example fleet (docs/examples/import) is applied
// to a real API server — some objects server-side, as Argo CD applies them, some as `kubectl
// apply` (client-side: the last-applied annotation, an Update by kubectl-client-side-apply)
// — and imported with --context beside the three other clusters' overlays. What the API
// server adds (status, uid, resourceVersion, managedFields, creationTimestamp, defaulted
// fields, the namespace's defaulted label and finalizer, its own namespaces and RBAC) must
// stay out: the layers written are exactly those an import of the four overlays writes, and
// import's own proof passes.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

func TestImportLiveCluster(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	example := filepath.Join(root, "docs", "examples", "import")
	kube := harness.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// prod-us1's objects, as `kustomize build overlays/prod-us1` prints them.
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(example, "overlays", "prod-us1"))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ParseManifests(string(stream))
	if err != nil {
		t.Fatal(err)
	}
	var serverSide []*unstructured.Unstructured
	clientSide := 0
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace", "RoleBinding", "ClusterRole":
			// kubectl apply (client-side): create with the last-applied annotation.
			last, err := json.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			obj := o.DeepCopy()
			ann := obj.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann["kubectl.kubernetes.io/last-applied-configuration"] = string(last) + "\n"
			obj.SetAnnotations(ann)
			ri, _, err := kube.Resource(obj.GroupVersionKind(), obj.GetNamespace())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
				t.Fatalf("create %s: %v", harness.ObjectRef(obj), err)
			}
			clientSide++
		default:
			serverSide = append(serverSide, o)
		}
	}
	if err := harness.ApplyErrors(kube.Apply(ctx, serverSide, false)); err != nil {
		t.Fatal(err)
	}
	if clientSide == 0 || len(serverSide) == 0 {
		t.Fatalf("the test needs objects of both kinds of apply (%d client-side, %d server-side)", clientSide, len(serverSide))
	}

	fromFiles := filepath.Join(t.TempDir(), "files")
	args := []string{"import", "--clusters", filepath.Join(example, "clusters.yaml")}
	if _, stderr, err := harness.RunDynamoCmp(t, nil, append(args, "--from", filepath.Join(example, "overlays"), "--out", fromFiles)...); err != nil {
		t.Fatalf("import of the overlays: %v\n%s", err, stderr)
	}
	live := filepath.Join(t.TempDir(), "live")
	kinds := "Namespace,ResourceQuota,LimitRange,ConfigMap,Role.rbac.authorization.k8s.io,RoleBinding.rbac.authorization.k8s.io," +
		"ClusterRole.rbac.authorization.k8s.io,ClusterRoleBinding.rbac.authorization.k8s.io,NetworkPolicy.networking.k8s.io," +
		"IPPool.projectcalico.org,GlobalNetworkPolicy.projectcalico.org"
	liveArgs := append(args, "--out", live, "--kubeconfig", kube.Kubeconfig, "--context", "prod-us1=e2e", "--kind", kinds)
	for _, c := range []string{"dev-eu1", "dev-us1", "prod-eu1"} {
		liveArgs = append(liveArgs, "--cluster", c+"="+filepath.Join(example, "overlays", c))
	}
	stdout, stderr, err := harness.RunDynamoCmp(t, nil, liveArgs...)
	if err != nil {
		t.Fatalf("live import: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "cluster prod-us1: read 15 objects from context e2e") {
		t.Errorf("the live cluster did not give its 15 objects (and only those):\n%s", stderr)
	}
	for _, want := range []string{"fields the API server owns were dropped", "status", "the kubectl last-applied-configuration annotation", "objects the cluster makes itself"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the report does not say %q:\n%s", want, stdout)
		}
	}
	// -l narrows what is read to what the API server selects.
	selected := filepath.Join(t.TempDir(), "selected")
	if _, stderr, err := harness.RunDynamoCmp(t, nil, "import", "--out", selected, "--kubeconfig", kube.Kubeconfig, "--context", "prod-us1=e2e",
		"--environment", "prod-us1=prod", "--region", "prod-us1=us-east-1", "-l", "team=a"); err != nil || !strings.Contains(stderr, "cluster prod-us1: read 1 objects from context e2e") {
		t.Errorf("import -l team=a should read the one Namespace labelled so: %v\n%s", err, stderr)
	}
	// The layers are the same as those of the overlays.
	err = filepath.WalkDir(fromFiles, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(fromFiles, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(live, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if string(got) != string(want) {
			t.Errorf("%s differs between the live import and the import of the overlays:\nlive:\n%s\noverlays:\n%s", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImportAdoption is the adoption of issue 23 with the real Argo CD control plane: a fleet
// of three clusters in two environments (e2e/testdata/import-fleet) is synced by Argo CD from
// per-cluster kustomize overlays in Git (an ApplicationSet with a Git directory generator,
// Argo CD's native kustomize). The overlays are imported and the layers published; the same
// ApplicationSet is then switched to dynamo-cmp's plugin generator
// (manifests/examples/applicationset-plugin-generator.yaml, served by `dynamo-cmp serve`), and
// Argo CD must report every Application Synced on the plugin source with no object changed in
// any cluster (same UID and resourceVersion). A global publish afterwards changes every
// cluster.
//
// The three clusters share one kube-apiserver (each is an Argo CD cluster Secret whose URL is
// a TCP proxy to it: Argo CD keys clusters by URL), which is why every object carries its
// cluster's name. Lines that differ from what users apply: the Git repository is a local bare one
// (file://), the generator ConfigMap's baseUrl is serve on loopback, and argocd-cm's
// resource.inclusions names the kinds the fleet has (so the clusters' caches watch those only).
func TestImportAdoption(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	fleetDir := filepath.Join(root, "e2e", "testdata", "import-fleet")
	clusters := map[string]string{"dev-eu1": "dev", "dev-us1": "dev", "prod-eu1": "prod"}
	const table = "adopt"
	bin := harness.BuildDynamoCmp(t)
	kustomizeDir := harness.KustomizeBinDir(t)
	harness.ArgoCDBinDir(t)

	db := harness.StartDynamoDB(t)
	env := db.Env(table)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := harness.RunDynamoCmp(t, env, args...)
		if err != nil {
			t.Fatalf("dynamo-cmp %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	run("table", "create")

	kube := harness.StartKubeAPIServer(t)
	argo := harness.StartArgoCD(t, kube, harness.ArgoCDOptions{
		PluginDir: harness.PluginDir(t),
		PluginEnv: append(harness.DynamoEnv(db.Endpoint, table), harness.PathWith(bin)),
		ConfigData: map[string]map[string]string{"argocd-cm": {"resource.inclusions": `- apiGroups: ["", rbac.authorization.k8s.io, networking.k8s.io]
  kinds: [Namespace, ResourceQuota, ConfigMap, ClusterRole, RoleBinding, NetworkPolicy]
  clusters: ["*"]
`}},
		RepoServerPath: []string{kustomizeDir},
	})
	for name := range clusters {
		proxy := harness.StartTCPProxy(t, strings.TrimPrefix(kube.Config.Host, "https://"))
		argo.RegisterClusterAt(t, name, kube, "https://"+proxy.Addr)
	}

	// The fleet's Git repository: the overlays, and the directory the plugin's Applications
	// point at (nothing in it is read).
	files := map[string]string{"dynamo-cmp/README.md": "Rendered by dynamo-cmp from DynamoDB; nothing here is read.\n"}
	err := filepath.WalkDir(fleetDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(fleetDir, p)
		data, err := os.ReadFile(p)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := harness.NewGitRepo(t, files)
	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"),
		"- https://git.example.com/platform/bootstrap.git", "- "+repo.URL)
	gitAppSet := strings.ReplaceAll(readRepoFile(t, "e2e/testdata/import-fleet-applicationset.yaml"), "REPO_URL", repo.URL)
	argo.ApplyYAML(t, project, gitAppSet)

	// Synced from the overlays.
	settled := func(what string, plugin bool) {
		t.Helper()
		eventually(t, patience, what, func() (bool, string) {
			for name := range clusters {
				app := argo.Application(t, name+"-bootstrap")
				if ok, why := appSettled(t, argo, name+"-bootstrap"); !ok {
					return false, why
				}
				_, onPlugin, _ := unstructured.NestedMap(app.Object, "status", "sync", "comparedTo", "source", "plugin")
				if onPlugin != plugin {
					return false, name + "-bootstrap: not yet compared on the new source"
				}
			}
			return true, ""
		})
	}
	settled("the fleet synced from its overlays", false)
	type identity struct{ uid, rv string }
	state := func() map[string]identity {
		t.Helper()
		m := map[string]identity{}
		for name := range clusters {
			for _, o := range liveObjectsOf(t, kube, name) {
				m[harness.ObjectRef(o)] = identity{string(o.GetUID()), o.GetResourceVersion()}
			}
		}
		return m
	}
	before := state()
	if len(before) != 6*len(clusters) {
		t.Fatalf("the overlays synced %d objects, want %d: %v", len(before), 6*len(clusters), before)
	}

	// Import the overlays, publish the layers.
	layers := filepath.Join(t.TempDir(), "layers")
	run("import", "--from", filepath.Join(fleetDir, "overlays"), "--clusters", filepath.Join(fleetDir, "clusters.yaml"), "--out", layers)
	var layerFiles []string
	for _, glob := range []string{"global.yaml", "env/*.yaml", "cluster/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(layers, glob))
		layerFiles = append(layerFiles, m...)
	}
	for _, f := range layerFiles {
		rel, _ := filepath.Rel(layers, f)
		run("config", "publish", "-f", f, "--layer", strings.TrimSuffix(rel, ".yaml"), "-m", "import", "--actor", "e2e")
	}

	// Switch the ApplicationSet to the plugin generator, served by `dynamo-cmp serve`.
	genToken := "e2e-generator-token-0123456789abcdef"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dynamo-cmp-generator", Namespace: "argocd",
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}}, StringData: map[string]string{"token": genToken}}
	if _, err := kube.Clientset.CoreV1().Secrets("argocd").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serveURL := startServe(t, env,
		"--generator-token-file", writeSecret(t, dir, "generator-token", genToken),
		"--kube-url", kube.Config.Host, "--kube-token-file", writeSecret(t, dir, "kube-token", kube.Config.BearerToken),
		"--kube-ca-file", serverCA(t, kube.Config.Host, filepath.Join(dir, "kube-ca.crt")), "--namespaces", "argocd")
	cm := replaceLine(t, readRepoFile(t, "manifests/serve/configmap.yaml"), "baseUrl: http://dynamo-cmp-generator.argocd.svc:8080", "baseUrl: "+serveURL)
	cm = strings.Replace(cm, "metadata:\n", "metadata:\n  namespace: argocd\n", 1)
	pluginAppSet := replaceLine(t, readRepoFile(t, "manifests/examples/applicationset-plugin-generator.yaml"),
		"repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+repo.URL)
	argo.ApplyYAML(t, cm, pluginAppSet)

	settled("the fleet on the plugin", true)
	after := state()
	for ref, was := range before {
		now, ok := after[ref]
		switch {
		case !ok:
			t.Errorf("%s is gone after the switch to the plugin", ref)
		case now.uid != was.uid:
			t.Errorf("%s was recreated by the switch (uid %s → %s)", ref, was.uid, now.uid)
		case now.rv != was.rv:
			t.Errorf("%s changed on the switch (resourceVersion %s → %s)", ref, was.rv, now.rv)
		}
	}
	for ref := range after {
		if _, ok := before[ref]; !ok {
			t.Errorf("%s is new after the switch: the overlays did not have it", ref)
		}
	}
	for name := range clusters {
		if out, errOut, err := argo.CLI(t, "app", "diff", "argocd/"+name+"-bootstrap"); err != nil {
			t.Errorf("argocd app diff %s-bootstrap after the switch: %v\n%s%s", name, err, out, errOut)
		}
	}

	// A global publish changes every cluster.
	global, err := os.ReadFile(filepath.Join(layers, "global.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(global), "    dashboard: https://grafana.${cluster.name}.example.com\n",
		"    dashboard: https://grafana.${cluster.name}.example.com\n    owner: platform\n", 1)
	if changed == string(global) {
		t.Fatalf("global.yaml has no cluster-info dashboard to add a key after:\n%s", global)
	}
	if err := os.WriteFile(filepath.Join(layers, "global.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	run("config", "publish", "-f", filepath.Join(layers, "global.yaml"), "--layer", "global", "-m", "cluster-info owner", "--actor", "e2e")
	eventually(t, patience, "the global publish in every cluster", func() (bool, string) {
		for name := range clusters {
			o, err := kube.Get(context.Background(), "v1", "ConfigMap", name+"-team", name+"-cluster-info")
			if err != nil {
				return false, err.Error()
			}
			if v, _, _ := unstructured.NestedString(o.Object, "data", "owner"); v != "platform" {
				return false, name + ": cluster-info has no owner yet"
			}
		}
		return true, ""
	})
}

// liveObjectsOf lists the objects of the fleet cluster name on the shared API server: those
// whose names carry its name (the fleet's objects of other clusters, Argo CD's and the API
// server's own are not).
func liveObjectsOf(t testing.TB, kube *harness.KubeAPI, name string) []*unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	var out []*unstructured.Unstructured
	for _, k := range []struct{ apiVersion, kind, namespace string }{
		{"v1", "Namespace", ""}, {"rbac.authorization.k8s.io/v1", "ClusterRole", ""},
		{"v1", "ResourceQuota", name + "-team"}, {"v1", "ConfigMap", name + "-team"},
		{"rbac.authorization.k8s.io/v1", "RoleBinding", name + "-team"}, {"networking.k8s.io/v1", "NetworkPolicy", name + "-team"},
	} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(k.apiVersion)
		obj.SetKind(k.kind)
		ri, _, err := kube.Resource(obj.GroupVersionKind(), k.namespace)
		if err != nil {
			t.Fatal(err)
		}
		list, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			if strings.HasPrefix(o.GetName(), name+"-") {
				out = append(out, o)
			}
		}
	}
	return out
}
