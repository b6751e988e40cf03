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

// TestImportAdoption is the adoption step of issue 23 without the Argo CD controllers: a
// cluster holds what Argo CD synced from its kustomize overlay (server-side applied by
// argocd-controller); the fleet is imported and published, the cluster's manifests are
// generated through the real argocd-cmp-server as the repo-server asks for them, and applied
// by the same field manager: no object changes, apart from the sync option dynamo-cmp adds
// to Calico objects. A global publish afterwards changes the cluster.
func TestImportAdoption(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	example := filepath.Join(root, "docs", "examples", "import")
	const cluster = "prod-us1"
	kube := harness.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(example, "overlays", cluster))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	synced, err := kube.ApplyManifests(ctx, []string{string(stream)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.ApplyErrors(synced); err != nil {
		t.Fatal(err)
	}

	db := harness.StartDynamoDB(t)
	env := db.Env("adopt")
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := harness.RunDynamoCmp(t, env, args...)
		if err != nil {
			t.Fatalf("dynamo-cmp %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	run("table", "create")
	layers := filepath.Join(t.TempDir(), "layers")
	run("import", "--from", filepath.Join(example, "overlays"), "--clusters", filepath.Join(example, "clusters.yaml"), "--out", layers)
	for _, f := range []string{"global.yaml", "env/prod.yaml", "cluster/dev-eu1.yaml", "cluster/dev-us1.yaml", "cluster/prod-eu1.yaml", "cluster/prod-us1.yaml"} {
		run("config", "publish", "-f", filepath.Join(layers, f), "--layer", strings.TrimSuffix(f, ".yaml"), "-m", "import", "--actor", "e2e")
	}
	socket := harness.StartCMPServer(t, harness.PluginDir(t), append(env, harness.PathWith(harness.BuildDynamoCmp(t))))
	generateAndApply := func() []harness.ApplyResult {
		t.Helper()
		manifests, err := harness.Generate(t, socket, harness.GenerateRequest{
			AppName: cluster + "-bootstrap", Project: "platform", Namespace: "default",
			Params: []harness.Param{harness.StringParam("cluster", cluster)}, NoTracking: true,
		})
		if err != nil {
			t.Fatalf("generate through argocd-cmp-server: %v", err)
		}
		res, err := kube.ApplyManifests(ctx, manifests, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.ApplyErrors(res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	before := map[string]string{}
	for _, r := range synced {
		before[r.Ref()] = r.ResourceVersion
	}
	adopted := generateAndApply()
	if len(adopted) != len(synced) {
		t.Errorf("the plugin renders %d objects, the overlay %d", len(adopted), len(synced))
	}
	for _, r := range adopted {
		rv, ok := before[r.Ref()]
		switch {
		case !ok:
			t.Errorf("%s is new: the overlay did not have it", r.Ref())
		case strings.HasPrefix(r.Object.GetAPIVersion(), "projectcalico.org/"):
			if r.Object.GetAnnotations()["argocd.argoproj.io/sync-options"] != "SkipDryRunOnMissingResource=true" {
				t.Errorf("%s lacks dynamo-cmp's sync option", r.Ref())
			}
		case r.ResourceVersion != rv:
			t.Errorf("%s changed on adoption (resourceVersion %s → %s)", r.Ref(), rv, r.ResourceVersion)
		}
	}

	// A global publish reaches the cluster.
	global, err := os.ReadFile(filepath.Join(layers, "global.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(global), "    team: b\n", "    team: b-renamed\n", 1)
	if changed == string(global) {
		t.Fatal("global.yaml has no team: b label to change")
	}
	if err := os.WriteFile(filepath.Join(layers, "global.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	run("config", "publish", "-f", filepath.Join(layers, "global.yaml"), "--layer", "global", "-m", "rename team b", "--actor", "e2e")
	generateAndApply()
	ns, err := kube.Get(ctx, "v1", "Namespace", "", "team-b")
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.GetLabels()["team"]; got != "b-renamed" {
		t.Errorf("after the global publish, Namespace team-b has team=%q", got)
	}
}
