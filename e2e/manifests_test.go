package e2e

// What we ship under manifests/, against the real thing: every kustomization built with the
// kustomize library (manifests/base on top of Argo CD's real install.yaml from the Argo CD
// module, not a stand-in), every example, and the Helm values laid out as the community chart
// lays them out, all server-side applied as a dry run with fieldValidation=Strict to a real
// kube-apiserver that serves Argo CD's own CRDs. An unknown field, a wrong type, an object of
// a kind the server does not serve: each fails the test, naming the file and the object.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

// argoInstallURL is the one remote resource a kustomization under manifests/ may have.
var argoInstallURL = regexp.MustCompile(`^https://raw\.githubusercontent\.com/argoproj/argo-cd/(v\d+\.\d+\.\d+)/manifests/install\.yaml$`)

func TestManifestsDryRun(t *testing.T) {
	root := harness.RepoRoot(t)
	argoDir, argoVersion := argoModule(t)
	kube := harness.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Everything goes to Argo CD's namespace, which exists on a real cluster.
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "argocd"}}}
	if err := harness.ApplyErrors(kube.Apply(ctx, []*unstructured.Unstructured{ns}, false)); err != nil {
		t.Fatal(err)
	}

	sets := map[string][]*unstructured.Unstructured{} // what to dry-run, by source
	kdirs := kustomizations(t, root)
	for dir, k := range kdirs {
		if k.Kind == types.ComponentKind {
			continue // built through the kustomizations that include it
		}
		sets[dir] = parse(t, dir, build(t, root, dir, k, argoDir, argoVersion))
	}
	examples, err := filepath.Glob(filepath.Join(root, "manifests", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range examples {
		rel, _ := filepath.Rel(root, f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "helm-values.yaml" {
			sets[rel] = helmChartPod(t, data, argoVersion)
			continue
		}
		sets[rel] = parse(t, rel, data)
	}
	if sets["manifests/base"] == nil {
		t.Fatal("no manifests/base kustomization")
	}

	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range sets {
			if !yield(k) {
				return
			}
		}
	}) {
		objs := sets[name]
		t.Run(name, func(t *testing.T) {
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			// As `kubectl apply -n argocd`: namespaced objects without a namespace (Argo CD's
			// install manifests carry none) go to argocd.
			for _, o := range objs {
				if o.GetNamespace() != "" {
					continue
				}
				gvk := o.GroupVersionKind()
				if m, err := kube.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace {
					o.SetNamespace("argocd")
				}
			}
			// The namespaces the objects live in exist on a real cluster by the time they are
			// applied (a dry run of a Namespace and its objects in one go fails there too).
			var namespaces []*unstructured.Unstructured
			seen := map[string]bool{"argocd": true}
			for _, o := range objs {
				name := o.GetNamespace()
				if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
					name = o.GetName()
				}
				if name != "" && !seen[name] {
					seen[name] = true
					namespaces = append(namespaces, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}})
				}
			}
			if err := harness.ApplyErrors(kube.Apply(ctx, namespaces, false)); err != nil {
				t.Fatal(err)
			}
			results := kube.Apply(ctx, objs, true)
			accepted := map[string]int{}
			for _, r := range results {
				switch {
				case meta.IsNoMatchError(r.Err):
					// Reported, never skipped: the harness must serve every kind we ship.
					t.Errorf("%s: the test apiserver does not serve %s (install its CRD in e2e/harness, or do not ship it): %v", r.Ref(), r.Object.GroupVersionKind(), r.Err)
					continue
				case r.Err != nil:
					t.Errorf("%s: %v", r.Ref(), r.Err)
					continue
				}
				accepted[r.Object.GetKind()]++
			}
			t.Logf("accepted by strict server-side dry-run: %v", accepted)
		})
	}

	// The component, applied to Argo CD's real repo-server, reaches exactly the containers it
	// means to: its skip-containers annotation lists every other container of the real pod.
	t.Run("manifests/base on the real repo-server", func(t *testing.T) {
		var deploy *unstructured.Unstructured
		for _, o := range sets["manifests/base"] {
			if o.GetKind() == "Deployment" && o.GetName() == "argocd-repo-server" {
				deploy = o
			}
		}
		if deploy == nil {
			t.Fatal("no argocd-repo-server Deployment in manifests/base")
		}
		var others []string
		sidecar := false
		for _, field := range []string{"initContainers", "containers"} {
			list, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", field)
			for _, c := range list {
				name := c.(map[string]any)["name"].(string)
				if name == "dynamo-cmp" {
					sidecar = true
					continue
				}
				others = append(others, name)
			}
		}
		skip, _, _ := unstructured.NestedString(deploy.Object, "spec", "template", "metadata", "annotations", "eks.amazonaws.com/skip-containers")
		got := strings.Split(skip, ",")
		slices.Sort(got)
		slices.Sort(others)
		if !sidecar || !slices.Equal(got, others) {
			t.Errorf("sidecar present: %v; skip-containers %v, the real repo-server's other containers %v", sidecar, got, others)
		}
		volumes, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "volumes")
		names := map[string]bool{}
		for _, v := range volumes {
			names[v.(map[string]any)["name"].(string)] = true
		}
		for _, v := range []string{"var-files", "plugins", "dynamo-cmp-tmp"} {
			if !names[v] {
				t.Errorf("volume %s missing from the real repo-server pod", v)
			}
		}
	})
}

// The chart names the repo-server's ServiceAccount after the release unless the values pin
// it; the IAM trust policies name one ServiceAccount. Rendered for a release not called
// argocd, the pod must still run as the ServiceAccount the policies trust.
func TestManifestsHelmServiceAccount(t *testing.T) {
	root := harness.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "manifests", "examples", "helm-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, argoVersion := argoModule(t)
	var runsAs, annotated string
	for _, o := range helmChartPod(t, data, argoVersion) {
		switch o.GetKind() {
		case "Deployment":
			name, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
			runsAs = o.GetNamespace() + ":" + name
		case "ServiceAccount":
			if o.GetAnnotations()["eks.amazonaws.com/role-arn"] != "" {
				annotated = o.GetNamespace() + ":" + o.GetName()
			}
		}
	}
	if runsAs != annotated {
		t.Errorf("release %q: the repo-server runs as %s, the role is annotated on %q", helmRelease, runsAs, annotated)
	}
	for _, file := range []string{"irsa-trust-policy.json", "pod-identity-trust-policy.json"} {
		if got := trustedServiceAccount(t, filepath.Join(root, "manifests", "iam", file)); got != runsAs {
			t.Errorf("release %q: manifests/iam/%s trusts the ServiceAccount %s, the chart's repo-server runs as %s (pin repoServer.serviceAccount.name)", helmRelease, file, got, runsAs)
		}
	}
}

// trustedServiceAccount returns namespace:name of the ServiceAccount a trust policy (IRSA's
// sub condition, or EKS Pod Identity's session tags) lets assume the role.
func trustedServiceAccount(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(p.Statement) != 1 {
		t.Fatalf("%s: want one statement", file)
	}
	eq := p.Statement[0].Condition["StringEquals"]
	for k, v := range eq {
		if strings.HasSuffix(k, ":sub") {
			return strings.TrimPrefix(v, "system:serviceaccount:")
		}
	}
	return eq["aws:RequestTag/kubernetes-namespace"] + ":" + eq["aws:RequestTag/kubernetes-service-account"]
}

// argoModule returns the directory of the Argo CD module this module builds against (its
// manifests/install.yaml is the real one) and its version.
func argoModule(t *testing.T) (dir, version string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "github.com/argoproj/argo-cd/v3")
	cmd.Dir = filepath.Join(harness.RepoRoot(t), "e2e")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m github.com/argoproj/argo-cd/v3: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] == "" {
		t.Fatalf("go list -m: %q (run go mod download in e2e)", out)
	}
	return f[0], f[1]
}

func kustomizations(t *testing.T, root string) map[string]*types.Kustomization {
	t.Helper()
	out := map[string]*types.Kustomization{}
	err := filepath.WalkDir(filepath.Join(root, "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains(konfig.RecognizedKustomizationFileNames(), d.Name()) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var k types.Kustomization
		if err := sigsyaml.UnmarshalStrict(data, &k); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		out[filepath.ToSlash(rel)] = &k
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// build runs kustomize on dir. Argo CD's install manifests named by URL are replaced by the
// install.yaml of the Argo CD module (same version, checked), in an in-memory copy of
// manifests/; any other remote resource fails the test.
func build(t *testing.T, root, dir string, k *types.Kustomization, argoDir, argoVersion string) []byte {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(filepath.Join(root, "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(p, data)
	})
	if err != nil {
		t.Fatal(err)
	}
	kfile := filepath.Join(root, dir, "kustomization.yaml")
	text, err := mem.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, dir, "zz-argocd-install")
	for _, r := range k.Resources {
		if !strings.Contains(r, "://") && !strings.HasPrefix(r, "github.com/") && !strings.Contains(r, "?ref=") {
			continue
		}
		m := argoInstallURL.FindStringSubmatch(r)
		if m == nil {
			t.Fatalf("%s: remote resource %s: no local replacement known", dir, r)
		}
		if m[1] != argoVersion {
			t.Errorf("%s installs Argo CD %s; this suite tests against %s", dir, m[1], argoVersion)
		}
		install, err := os.ReadFile(filepath.Join(argoDir, "manifests", "install.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile(filepath.Join(real, "install.yaml"), install); err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile(filepath.Join(real, "kustomization.yaml"), []byte("resources: [install.yaml]\n")); err != nil {
			t.Fatal(err)
		}
		text = []byte(strings.Replace(string(text), r, "zz-argocd-install", 1))
	}
	if err := mem.WriteFile(kfile, text); err != nil {
		t.Fatal(err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, filepath.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t *testing.T, source string, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := harness.ParseManifests(string(data))
	if err != nil {
		t.Fatalf("%s: %v", source, err)
	}
	return objs
}

// helmRelease is the release name helmChartPod renders for: not "argocd", as many installs
// name theirs, so that every name the chart derives from the release differs from Argo CD's
// upstream manifests.
const helmRelease = "platform"

// helmChartPod lays the Helm values out as the community argo-cd chart does with them: the
// chart's repo-server Deployment (its container "repo-server", the copyutil init container,
// the var-files and plugins volumes it always defines) with repoServer.extraContainers,
// repoServer.volumes and repoServer.podAnnotations added, and its ServiceAccount with
// repoServer.serviceAccount.annotations. The values' own fields are taken verbatim, so the
// strict dry-run checks every field of the snippet.
func helmChartPod(t *testing.T, data []byte, argoVersion string) []*unstructured.Unstructured {
	t.Helper()
	var values struct {
		RepoServer struct {
			ServiceAccount struct {
				Name        string         `json:"name"`
				Annotations map[string]any `json:"annotations"`
			} `json:"serviceAccount"`
			PodAnnotations  map[string]any `json:"podAnnotations"`
			ExtraContainers []any          `json:"extraContainers"`
			Volumes         []any          `json:"volumes"`
		} `json:"repoServer"`
	}
	if err := sigsyaml.UnmarshalStrict(data, &values); err != nil {
		t.Fatalf("helm-values.yaml: %v", err)
	}
	rs := values.RepoServer
	// The chart's names: argo-cd.fullname is the release name when it contains nameOverride
	// ("argocd"), else <release>-argocd; the ServiceAccount is serviceAccount.name or
	// <fullname>-repo-server.
	fullname := helmRelease + "-argocd"
	if strings.Contains(helmRelease, "argocd") {
		fullname = helmRelease
	}
	saName := cmp.Or(rs.ServiceAccount.Name, fullname+"-repo-server")
	image := "quay.io/argoproj/argocd:" + argoVersion
	labels := map[string]any{"app.kubernetes.io/name": "argocd-repo-server", "app.kubernetes.io/instance": helmRelease}
	volumes := []any{
		map[string]any{"name": "var-files", "emptyDir": map[string]any{}},
		map[string]any{"name": "plugins", "emptyDir": map[string]any{}},
		map[string]any{"name": "tmp", "emptyDir": map[string]any{}},
	}
	containers := []any{map[string]any{
		"name": "repo-server", "image": image, "args": []any{"/usr/local/bin/argocd-repo-server"},
		"volumeMounts": []any{
			map[string]any{"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
			map[string]any{"name": "tmp", "mountPath": "/tmp"},
		},
	}}
	deploy := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": fullname + "-repo-server", "namespace": "argocd"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels, "annotations": rs.PodAnnotations},
				"spec": map[string]any{
					"serviceAccountName": saName,
					"initContainers": []any{map[string]any{
						"name": "copyutil", "image": image,
						"command":      []any{"/bin/cp", "-n", "/usr/local/bin/argocd", "/var/run/argocd/argocd-cmp-server"},
						"volumeMounts": []any{map[string]any{"name": "var-files", "mountPath": "/var/run/argocd"}},
					}},
					"containers": append(containers, rs.ExtraContainers...),
					"volumes":    append(volumes, rs.Volumes...),
				},
			},
		},
	}
	sa := map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": saName, "namespace": "argocd", "annotations": rs.ServiceAccount.Annotations},
	}
	if len(rs.ExtraContainers) == 0 {
		t.Fatal("helm-values.yaml: no repoServer.extraContainers")
	}
	return []*unstructured.Unstructured{{Object: sa}, {Object: deploy}}
}
