package shiptest_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// argoInstallURL matches the one remote resource a kustomization under manifests/ may have:
// Argo CD's upstream install manifests. CI has no network, so the build replaces it by the
// local stand-in below (the e2e suite uses the real install.yaml of the Argo CD module).
var argoInstallURL = regexp.MustCompile(`^https://raw\.githubusercontent\.com/argoproj/argo-cd/(v\d+\.\d+\.\d+)/manifests/install\.yaml$`)

// standIn is the test fixture that replaces Argo CD's install manifests.
const standIn = "manifests/base/testdata/argocd-install"

// kustomizationDirs returns every directory under manifests/ that holds a kustomization,
// relative to the repository root, with its decoded kustomization file.
func kustomizationDirs(t *testing.T) map[string]*types.Kustomization {
	t.Helper()
	root := repoRoot(t)
	out := map[string]*types.Kustomization{}
	err := filepath.WalkDir(filepath.Join(root, "manifests"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !slices.Contains(konfig.RecognizedKustomizationFileNames(), d.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var k types.Kustomization
		if err := yaml.UnmarshalStrict(data, &k); err != nil {
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

func isRemote(res string) bool {
	return strings.Contains(res, "://") || strings.HasPrefix(res, "github.com/") || strings.HasPrefix(res, "git@") || strings.Contains(res, "?ref=")
}

// buildKustomization builds dir (relative to the repository root) with the kustomize library,
// as `kustomize build` does. A kustomization without remote resources is built straight from
// disk; one that includes Argo CD's install manifests by URL is built from an in-memory copy
// of manifests/ in which that URL points at the stand-in (or at argoInstall, when given).
func buildKustomization(t *testing.T, dir string, k *types.Kustomization) []byte {
	t.Helper()
	root := repoRoot(t)
	kz := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	var remote []string
	for _, r := range k.Resources {
		if isRemote(r) {
			remote = append(remote, r)
		}
	}
	fsys := filesys.MakeFsOnDisk()
	if len(remote) > 0 {
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
		data, err := mem.ReadFile(kfile)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Join(root, dir), filepath.Join(root, standIn))
		text := string(data)
		for _, r := range remote {
			if !argoInstallURL.MatchString(r) {
				t.Fatalf("%s: remote resource %s has no local stand-in; CI cannot build it", dir, r)
			}
			text = strings.Replace(text, r, filepath.ToSlash(rel), 1)
		}
		if err := mem.WriteFile(kfile, []byte(text)); err != nil {
			t.Fatal(err)
		}
		fsys = mem
	}
	m, err := kz.Run(fsys, filepath.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKustomizationsBuild builds every kustomization under manifests/ with the kustomize
// library, and checks that every component is used by one of them.
func TestKustomizationsBuild(t *testing.T) {
	dirs := kustomizationDirs(t)
	if dirs["manifests/base"] == nil {
		t.Fatal("no kustomization in manifests/base")
	}
	used := map[string]bool{}
	for dir, k := range dirs {
		if k.Kind == types.ComponentKind {
			continue // built by the kustomizations that include it
		}
		t.Run(dir, func(t *testing.T) {
			start := time.Now()
			out := buildKustomization(t, dir, k)
			if len(out) == 0 {
				t.Fatal("built nothing")
			}
			t.Logf("%d bytes in %s", len(out), time.Since(start).Round(time.Millisecond))
		})
		for _, c := range k.Components {
			used[filepath.ToSlash(filepath.Join(dir, c))] = true
		}
	}
	for dir, k := range dirs {
		if k.Kind == types.ComponentKind && !used[dir] {
			t.Errorf("component %s is included by no kustomization under manifests/, so nothing builds it", dir)
		}
	}
}

// object is the part of a Kubernetes object these tests read.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Template struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				ServiceAccountName string           `json:"serviceAccountName"`
				InitContainers     []map[string]any `json:"initContainers"`
				Containers         []map[string]any `json:"containers"`
				Volumes            []map[string]any `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// container is the part of a container these tests read.
type container struct {
	Name            string   `json:"name"`
	Image           string   `json:"image"`
	Command         []string `json:"command"`
	Args            []string `json:"args"`
	Env             []struct{ Name, Value string }
	SecurityContext struct {
		RunAsNonRoot             *bool `json:"runAsNonRoot"`
		RunAsUser                *int  `json:"runAsUser"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
		SeccompProfile struct {
			Type string `json:"type"`
		} `json:"seccompProfile"`
	} `json:"securityContext"`
	Resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

func decodeObjects(t *testing.T, stream []byte) []object {
	t.Helper()
	var out []object
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func asContainer(t *testing.T, m map[string]any) container {
	t.Helper()
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c container
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// builtBase builds manifests/base (with the stand-in for Argo CD) and returns its
// argocd-repo-server Deployment and ServiceAccount.
func builtBase(t *testing.T) (deploy, sa object) {
	t.Helper()
	dirs := kustomizationDirs(t)
	for _, o := range decodeObjects(t, buildKustomization(t, "manifests/base", dirs["manifests/base"])) {
		switch {
		case o.Kind == "Deployment" && o.Metadata.Name == "argocd-repo-server":
			deploy = o
		case o.Kind == "ServiceAccount" && o.Metadata.Name == "argocd-repo-server":
			sa = o
		}
	}
	if deploy.Kind == "" || sa.Kind == "" {
		t.Fatal("manifests/base builds no argocd-repo-server Deployment and ServiceAccount")
	}
	return deploy, sa
}

// builtSidecar is the dynamo-cmp container of the built base, decoded.
func builtSidecar(t *testing.T) container {
	t.Helper()
	deploy, _ := builtBase(t)
	for _, c := range deploy.Spec.Template.Spec.Containers {
		if c["name"] == "dynamo-cmp" {
			return asContainer(t, c)
		}
	}
	t.Fatal("the built argocd-repo-server Deployment has no dynamo-cmp container")
	return container{}
}

// repoServerServiceAccount is "namespace:name" of the ServiceAccount the base annotates.
func repoServerServiceAccount(t *testing.T) string {
	t.Helper()
	_, sa := builtBase(t)
	return sa.Metadata.Namespace + ":" + sa.Metadata.Name
}

// TestBaseAddsSidecar checks what manifests/base does to Argo CD's repo-server: the
// dynamo-cmp container exactly as a CMP v2 sidecar must be (argocd-cmp-server as command,
// uid 999, read-only root, no capabilities, RuntimeDefault seccomp, Argo CD's var-files and
// plugins volumes, its own /tmp, the table settings, requests and limits), the IRSA role on
// the ServiceAccount, the repo-server's own containers kept away from that role, and the
// Argo CD version of the remote install matching the one the e2e suite tests against.
func TestBaseAddsSidecar(t *testing.T) {
	deploy, sa := builtBase(t)
	if deploy.Metadata.Namespace != "argocd" || sa.Metadata.Namespace != "argocd" {
		t.Errorf("namespace %q/%q, want argocd", deploy.Metadata.Namespace, sa.Metadata.Namespace)
	}
	c := builtSidecar(t)
	if c.Image != "ghcr.io/dynamo-cmp/dynamo-cmp:v0.1.0" && !strings.HasPrefix(c.Image, "ghcr.io/dynamo-cmp/dynamo-cmp@sha256:") {
		t.Errorf("image %q", c.Image)
	}
	if !slices.Equal(c.Command, []string{"/var/run/argocd/argocd-cmp-server"}) || len(c.Args) > 0 {
		t.Errorf("command %v args %v, want Argo CD's argocd-cmp-server from the var-files volume", c.Command, c.Args)
	}
	sc := c.SecurityContext
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 999 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("securityContext %+v: want runAsNonRoot, runAsUser 999, readOnlyRootFilesystem, no privilege escalation, drop ALL, seccomp RuntimeDefault", sc)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/var/run/argocd"] != "var-files" || mounts["/home/argocd/cmp-server/plugins"] != "plugins" || mounts["/tmp"] == "" || len(mounts) != 3 {
		t.Errorf("volumeMounts %v: want var-files, plugins and a /tmp of its own", mounts)
	}
	volumes := map[string]map[string]any{}
	for _, v := range deploy.Spec.Template.Spec.Volumes {
		volumes[fmt.Sprint(v["name"])] = v
	}
	for _, name := range mounts {
		if volumes[name] == nil {
			t.Errorf("volume %s is mounted but not defined", name)
		}
	}
	if tmp := volumes[mounts["/tmp"]]; tmp == nil || tmp["emptyDir"] == nil {
		t.Errorf("the sidecar's /tmp must be an emptyDir: %v", tmp)
	}
	for _, other := range deploy.Spec.Template.Spec.Containers {
		for _, m := range asContainer(t, other).VolumeMounts {
			if other["name"] != "dynamo-cmp" && m.Name == mounts["/tmp"] {
				t.Errorf("container %v shares the sidecar's /tmp", other["name"])
			}
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for _, k := range []string{"DYNAMO_CMP_TABLE", "AWS_REGION", "DYNAMO_CMP_TIMEOUT"} {
		if env[k] == "" {
			t.Errorf("env %s is not set", k)
		}
	}
	if d, err := time.ParseDuration(env["DYNAMO_CMP_TIMEOUT"]); err != nil || d <= 0 || d >= 60*time.Second {
		t.Errorf("DYNAMO_CMP_TIMEOUT=%q: want a duration under the repo-server's 60 s", env["DYNAMO_CMP_TIMEOUT"])
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no %s request", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}

	// IRSA on the ServiceAccount, and every other container of the pod skipped.
	if !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`).MatchString(sa.Metadata.Annotations["eks.amazonaws.com/role-arn"]) {
		t.Errorf("ServiceAccount annotation eks.amazonaws.com/role-arn = %q", sa.Metadata.Annotations["eks.amazonaws.com/role-arn"])
	}
	if deploy.Spec.Template.Spec.ServiceAccountName != sa.Metadata.Name {
		t.Errorf("the Deployment runs as %q, the annotated ServiceAccount is %q", deploy.Spec.Template.Spec.ServiceAccountName, sa.Metadata.Name)
	}
	var others []string
	for _, list := range [][]map[string]any{deploy.Spec.Template.Spec.InitContainers, deploy.Spec.Template.Spec.Containers} {
		for _, o := range list {
			if o["name"] != "dynamo-cmp" {
				others = append(others, fmt.Sprint(o["name"]))
			}
		}
	}
	skipped := strings.Split(deploy.Spec.Template.Metadata.Annotations["eks.amazonaws.com/skip-containers"], ",")
	slices.Sort(others)
	slices.Sort(skipped)
	if !slices.Equal(others, skipped) {
		t.Errorf("pod annotation eks.amazonaws.com/skip-containers lists %v; the pod's other containers are %v", skipped, others)
	}
	if got := deploy.Spec.Template.Metadata.Annotations["kubectl.kubernetes.io/default-container"]; got == "dynamo-cmp" || !slices.Contains(others, got) {
		t.Errorf("default container %q: want the repo-server's own", got)
	}

	// The Argo CD version of manifests/base is the current release the e2e suite runs.
	k := kustomizationDirs(t)["manifests/base"]
	var version string
	for _, r := range k.Resources {
		if m := argoInstallURL.FindStringSubmatch(r); m != nil {
			version = m[1]
		}
	}
	if current := supportedArgoCD[0]; version != current.Version {
		t.Errorf("manifests/base installs Argo CD %q, want %s: the current release the e2e suite tests (%s)", version, current.Version, current.GoMod)
	}
	// The image pin of the kustomization names the image of the component.
	if len(k.Images) != 1 || k.Images[0].Name != strings.Split(strings.Split(c.Image, "@")[0], ":")[0] {
		t.Errorf("images: %+v: want one pin of the sidecar image", k.Images)
	}
}

// TestHelmValuesMatchBase checks that manifests/examples/helm-values.yaml adds the same
// container as the kustomize component, for the community chart's own names: its
// repo-server container is "repo-server", and the chart defines var-files and plugins.
func TestHelmValuesMatchBase(t *testing.T) {
	var values struct {
		Global struct {
			Image struct {
				Tag string `json:"tag"`
			} `json:"image"`
		} `json:"global"`
		// Configs.CM: the health check of child Applications (argocd-cm), read by
		// e2e/addons_test.go.
		Configs struct {
			CM map[string]string `json:"cm"`
		} `json:"configs"`
		RepoServer struct {
			ServiceAccount struct {
				Name        string            `json:"name"`
				Annotations map[string]string `json:"annotations"`
			} `json:"serviceAccount"`
			PodAnnotations  map[string]string `json:"podAnnotations"`
			ExtraContainers []map[string]any  `json:"extraContainers"`
			Volumes         []map[string]any  `json:"volumes"`
		} `json:"repoServer"`
	}
	if err := yaml.UnmarshalStrict([]byte(readRepoFile(t, "manifests/examples/helm-values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	// Adding a plugin must not change the Argo CD a user runs: the values pin no Argo CD
	// version (global.image.tag would up- or downgrade every Argo CD image of the chart).
	if values.Global.Image.Tag != "" {
		t.Errorf("global.image.tag %q: the values must not pin an Argo CD version (docs/install.md)", values.Global.Image.Tag)
	}
	deploy, sa := builtBase(t)
	var want map[string]any
	for _, c := range deploy.Spec.Template.Spec.Containers {
		if c["name"] == "dynamo-cmp" {
			want = c
		}
	}
	rs := values.RepoServer
	if len(rs.ExtraContainers) != 1 || !reflect.DeepEqual(rs.ExtraContainers[0], want) {
		got, _ := yaml.Marshal(rs.ExtraContainers)
		exp, _ := yaml.Marshal(want)
		t.Errorf("repoServer.extraContainers:\n%s\nwant the container of manifests/base:\n%s", got, exp)
	}
	var tmpVolume map[string]any
	for _, v := range deploy.Spec.Template.Spec.Volumes {
		if v["name"] == "dynamo-cmp-tmp" {
			tmpVolume = v
		}
	}
	if len(rs.Volumes) != 1 || !reflect.DeepEqual(rs.Volumes[0], tmpVolume) {
		t.Errorf("repoServer.volumes %v, want %v", rs.Volumes, tmpVolume)
	}
	// The chart names the ServiceAccount after the release unless serviceAccount.name is set;
	// the trust policies name the one of manifests/base (TestIAMPolicies checks that).
	if rs.ServiceAccount.Name != sa.Metadata.Name {
		t.Errorf("repoServer.serviceAccount.name %q, want %q: the ServiceAccount the IAM trust policies name", rs.ServiceAccount.Name, sa.Metadata.Name)
	}
	if rs.ServiceAccount.Annotations["eks.amazonaws.com/role-arn"] != sa.Metadata.Annotations["eks.amazonaws.com/role-arn"] {
		t.Errorf("serviceAccount annotations %v", rs.ServiceAccount.Annotations)
	}
	if got := rs.PodAnnotations["eks.amazonaws.com/skip-containers"]; got != "repo-server,copyutil" {
		t.Errorf("podAnnotations skip-containers %q, want the chart's own containers repo-server,copyutil", got)
	}
}

// pluginName is the name Applications use for the plugin, as Argo CD 3.x names its socket:
// <metadata.name>-<spec.version>, or <metadata.name> without a version (the only form Argo CD
// 4.0 keeps).
func pluginName(t *testing.T) (string, []string) {
	t.Helper()
	var p struct {
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			Version    string `json:"version"`
			Parameters struct {
				Static []struct{ Name string } `json:"static"`
			} `json:"parameters"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "plugin/plugin.yaml")), &p); err != nil {
		t.Fatal(err)
	}
	var params []string
	for _, s := range p.Spec.Parameters.Static {
		params = append(params, s.Name)
	}
	if p.Spec.Version != "" {
		return p.Metadata.Name + "-" + p.Spec.Version, params
	}
	return p.Metadata.Name, params
}

// exampleDocs returns the Kubernetes objects of manifests/examples (every YAML file but the
// Helm values) by file.
func exampleDocs(t *testing.T) map[string][]map[string]any {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "manifests", "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]map[string]any{}
	for _, f := range files {
		if filepath.Base(f) == "helm-values.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(m) > 0 {
				out[filepath.Base(f)] = append(out[filepath.Base(f)], m)
			}
		}
	}
	return out
}

// TestExamples checks what the examples say to dynamo-cmp: Argo CD objects of
// argoproj.io/v1alpha1 in Argo CD's namespace, every plugin source naming the plugin as
// plugin.yaml declares it, with parameters it announces and valid components, and the
// cluster-generator ApplicationSets passing the cluster as {{.name}}. (Their schema is
// checked against the real CRDs by e2e/manifests_test.go.)
func TestExamples(t *testing.T) {
	name, params := pluginName(t)
	docs := exampleDocs(t)
	if len(docs["applicationset-cluster-generator.yaml"]) == 0 || len(docs["app-of-apps.yaml"]) == 0 {
		t.Fatalf("missing examples: have %v", slices.Sorted(func(yield func(string) bool) {
			for k := range docs {
				if !yield(k) {
					return
				}
			}
		}))
	}
	for file, objs := range docs {
		for _, o := range objs {
			obj := fmt.Sprintf("%s: %v %v", file, o["kind"], dig(o, "metadata", "name"))
			if o["apiVersion"] != "argoproj.io/v1alpha1" || !slices.Contains([]string{"Application", "ApplicationSet", "AppProject"}, fmt.Sprint(o["kind"])) {
				t.Errorf("%s: want an Argo CD Application, ApplicationSet or AppProject of argoproj.io/v1alpha1", obj)
			}
			if dig(o, "metadata", "namespace") != "argocd" {
				t.Errorf("%s: metadata.namespace must be argocd", obj)
			}
			spec, _ := o["spec"].(map[string]any)
			if o["kind"] == "ApplicationSet" {
				spec, _ = dig(o, "spec", "template", "spec").(map[string]any)
			}
			plugin, _ := dig(spec, "source", "plugin").(map[string]any)
			if plugin == nil {
				continue
			}
			if plugin["name"] != name {
				t.Errorf("%s: plugin %v, want %s (the name plugin/plugin.yaml gives its socket)", obj, plugin["name"], name)
			}
			ps, _ := plugin["parameters"].([]any)
			got := map[string]any{}
			for _, p := range ps {
				p := p.(map[string]any)
				n := fmt.Sprint(p["name"])
				if !slices.Contains(params, n) {
					t.Errorf("%s: parameter %q is not announced by plugin.yaml (%v)", obj, n, params)
				}
				got[n] = p
				if n == "components" {
					for _, c := range p["array"].([]any) {
						if strings.Contains(fmt.Sprint(c), "{{") {
							continue // filled in by the ApplicationSet's generators
						}
						if !slices.Contains(render.Components, fmt.Sprint(c)) {
							t.Errorf("%s: component %v is not one of %v", obj, c, render.Components)
						}
					}
				}
			}
			if got["cluster"] == nil {
				t.Errorf("%s: no cluster parameter", obj)
			}
			if file == "applicationset-cluster-generator.yaml" {
				if dig(got["cluster"], "string") != "{{.name}}" {
					t.Errorf("%s: cluster parameter %v, want the cluster generator's {{.name}}", obj, got["cluster"])
				}
				gens, _ := dig(o, "spec", "generators").([]any)
				if len(gens) != 1 || dig(gens[0], "clusters") == nil {
					t.Errorf("%s: want one cluster generator", obj)
				}
				if dig(o, "spec", "goTemplate") != true {
					t.Errorf("%s: {{.name}} needs goTemplate: true", obj)
				}
			}
		}
	}
}

// dig walks nested maps.
func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
