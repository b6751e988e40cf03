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
	t.Parallel()
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
			sets[rel] = helmChartPod(t, data)
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
	var runsAs, annotated string
	for _, o := range helmChartPod(t, data) {
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

// In the pod the chart renders with helm-values.yaml, the sidecar can start and be reached:
// its command is the argocd-cmp-server the chart's copyutil init container links into a
// volume the sidecar mounts at the same path (the link is absolute, to the copied binary in
// that volume), its plugins mount is the repo-server's (the socket argocd-repo-server
// dials), and the IRSA webhook skips every container but dynamo-cmp.
func TestManifestsHelmPod(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "manifests", "examples", "helm-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var deploy *unstructured.Unstructured
	for _, o := range helmChartPod(t, data) {
		if o.GetKind() == "Deployment" {
			deploy = o
		}
	}
	var pod struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Containers, InitContainers []struct {
				Name, Image  string
				Command      []string
				Args         []string
				VolumeMounts []struct{ Name, MountPath string }
			}
		} `json:"spec"`
	}
	tmpl, _, _ := unstructured.NestedMap(deploy.Object, "spec", "template")
	raw, _ := json.Marshal(tmpl)
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	mounts := func(name string) map[string]string { // volume -> mount path
		out := map[string]string{}
		for _, c := range append(pod.Spec.Containers, pod.Spec.InitContainers...) {
			if c.Name == name {
				for _, m := range c.VolumeMounts {
					out[m.Name] = m.MountPath
				}
			}
		}
		return out
	}
	sidecar, copyutil, repo := mounts("dynamo-cmp"), mounts("copyutil"), mounts("repo-server")
	var command string
	for _, c := range pod.Spec.Containers {
		if c.Name == "dynamo-cmp" && len(c.Command) > 0 {
			command = c.Command[0]
		}
	}
	var script string
	for _, c := range pod.Spec.InitContainers {
		if c.Name == "copyutil" {
			script = strings.Join(c.Args, " ")
		}
	}
	// copyutil: cp ... /usr/local/bin/argocd <bin> && ln -sf <bin> <link>
	link := regexp.MustCompile(`ln -sf (\S+) (\S+)$`).FindStringSubmatch(script)
	if link == nil || link[2] != command {
		t.Fatalf("the sidecar runs %q; %s's copyutil provides %v (%q)", command, helmChart, link, script)
	}
	for _, file := range []string{link[1], link[2]} { // the link and its absolute target
		ok := false
		for vol, path := range copyutil {
			if strings.HasPrefix(file, path+"/") && sidecar[vol] == path {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: written by copyutil (mounts %v), not at that path in the sidecar (mounts %v)", file, copyutil, sidecar)
		}
	}
	if sidecar["plugins"] == "" || sidecar["plugins"] != repo["plugins"] {
		t.Errorf("plugins volume: the sidecar mounts it at %q, argocd-repo-server at %q", sidecar["plugins"], repo["plugins"])
	}
	var others []string
	for _, c := range append(pod.Spec.Containers, pod.Spec.InitContainers...) {
		if c.Name != "dynamo-cmp" {
			others = append(others, c.Name)
		}
	}
	skipped := strings.Split(pod.Metadata.Annotations["eks.amazonaws.com/skip-containers"], ",")
	slices.Sort(others)
	slices.Sort(skipped)
	if !slices.Equal(skipped, others) {
		t.Errorf("eks.amazonaws.com/skip-containers is %v; the pod's containers other than dynamo-cmp are %v", skipped, others)
	}
	if got := pod.Metadata.Annotations["kubectl.kubernetes.io/default-container"]; got != "repo-server" {
		t.Errorf("kubectl.kubernetes.io/default-container is %q, want the chart's repo-server container", got)
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

// argoModule returns the directory of the Argo CD module this test binary is built against
// (its manifests/install.yaml is the real one) and its version.
func argoModule(t *testing.T) (dir, version string) {
	t.Helper()
	return harness.ArgoCDModuleDir(t), harness.ArgoCDVersion()
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
// install.yaml of the Argo CD module under test (the URL's version checked), in an in-memory copy of
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
		// The kustomization names the current release (e2e/go.mod); a run against another
		// version (make e2e-compat) dry-runs it on that version's install.yaml, as a user of
		// that version sets it.
		if current := harness.ArgoCDVersionOf(t, "go.mod"); m[1] != current {
			t.Errorf("%s installs Argo CD %s; the e2e suite tests %s (e2e/go.mod)", dir, m[1], current)
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

// helmChart is the community argo-cd chart helmChartPod stands in for. It deploys Argo CD
// helmChartAppVersion by default; global.image.tag (helm-values.yaml sets none) replaces it
// in every image and in the app.kubernetes.io/version label ($ARGOCD_TAG below).
const (
	helmChart           = "argo-cd-10.1.1"
	helmChartAppVersion = "v3.4.4"
)

// chartRepoServer is the repo-server Deployment and ServiceAccount that the community argo-cd
// chart 10.1.1 (argoproj/argo-helm, charts/argo-cd/templates/argocd-repo-server/deployment.yaml
// and serviceaccount.yaml, defaults from charts/argo-cd/values.yaml) renders with its defaults,
// transcribed field for field, before the values of helm-values.yaml are added: $FULLNAME,
// $RELEASE and $SERVICEACCOUNT are the names derived from the release, the repo-server
// container's env is chartRepoServerEnv. The checksum/* pod annotations are hashes of other
// templates (placeholders here). The chart cannot be rendered in CI: argo-helm is no Go
// module and no registry CI reaches serves it.
const chartRepoServer = `
apiVersion: v1
kind: ServiceAccount
automountServiceAccountToken: true
metadata:
  name: $SERVICEACCOUNT
  namespace: argocd
  labels:
    helm.sh/chart: argo-cd-10.1.1
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/instance: $RELEASE
    app.kubernetes.io/component: repo-server
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/part-of: argocd
    app.kubernetes.io/version: $ARGOCD_TAG
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $FULLNAME-repo-server
  namespace: argocd
  labels: &labels
    helm.sh/chart: argo-cd-10.1.1
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/instance: $RELEASE
    app.kubernetes.io/component: repo-server
    app.kubernetes.io/managed-by: Helm
    app.kubernetes.io/part-of: argocd
    app.kubernetes.io/version: $ARGOCD_TAG
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
      app.kubernetes.io/instance: $RELEASE
      app.kubernetes.io/component: repo-server
  template:
    metadata:
      annotations:
        checksum/cmd-params: "0000000000000000000000000000000000000000000000000000000000000000"
        checksum/cm: "0000000000000000000000000000000000000000000000000000000000000000"
      labels: *labels
    spec:
      serviceAccountName: $SERVICEACCOUNT
      automountServiceAccountToken: true
      containers:
      - name: repo-server
        image: quay.io/argoproj/argocd:$ARGOCD_TAG
        imagePullPolicy: IfNotPresent
        args:
        - /usr/local/bin/argocd-repo-server
        - --port=8081
        - --metrics-port=8084
        volumeMounts:
        - mountPath: /app/config/ssh
          name: ssh-known-hosts
        - mountPath: /app/config/tls
          name: tls-certs
        - mountPath: /app/config/gpg/source
          name: gpg-keys
        - mountPath: /app/config/gpg/keys
          name: gpg-keyring
        - mountPath: /app/config/reposerver/tls
          name: argocd-repo-server-tls
        - mountPath: /helm-working-dir
          name: helm-working-dir
        - mountPath: /home/argocd/cmp-server/plugins
          name: plugins
        - mountPath: /tmp
          name: tmp
        ports:
        - name: repo-server
          containerPort: 8081
          protocol: TCP
        - name: metrics
          containerPort: 8084
          protocol: TCP
        livenessProbe:
          httpGet:
            path: /healthz?full=true
            port: metrics
          initialDelaySeconds: 10
          periodSeconds: 10
          timeoutSeconds: 1
          successThreshold: 1
          failureThreshold: 3
        readinessProbe:
          httpGet:
            path: /healthz
            port: metrics
          initialDelaySeconds: 10
          periodSeconds: 10
          timeoutSeconds: 1
          successThreshold: 1
          failureThreshold: 3
        resources: {}
        securityContext: &containerSecurityContext
          runAsNonRoot: true
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          seccompProfile:
            type: RuntimeDefault
          capabilities:
            drop:
            - ALL
      initContainers:
      - command:
        - sh
        - '-c'
        args:
        - /bin/cp --update=none /usr/local/bin/argocd /var/run/argocd/argocd && /bin/ln -sf /var/run/argocd/argocd /var/run/argocd/argocd-cmp-server
        image: quay.io/argoproj/argocd:$ARGOCD_TAG
        imagePullPolicy: IfNotPresent
        name: copyutil
        resources: {}
        securityContext: *containerSecurityContext
        volumeMounts:
        - mountPath: /var/run/argocd
          name: var-files
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector:
                matchLabels:
                  app.kubernetes.io/name: argocd-repo-server
              topologyKey: kubernetes.io/hostname
      volumes:
      - name: helm-working-dir
        emptyDir: {}
      - name: plugins
        emptyDir: {}
      - name: var-files
        emptyDir: {}
      - name: tmp
        emptyDir: {}
      - name: ssh-known-hosts
        configMap:
          name: argocd-ssh-known-hosts-cm
      - name: tls-certs
        configMap:
          name: argocd-tls-certs-cm
      - name: gpg-keys
        configMap:
          name: argocd-gpg-keys-cm
      - name: gpg-keyring
        emptyDir: {}
      - name: argocd-repo-server-tls
        secret:
          secretName: argocd-repo-server-tls
          optional: true
          items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
          - key: ca.crt
            path: ca.crt
      dnsPolicy: ClusterFirst
`

// chartRepoServerEnv is the repo-server container's env in the chart's deployment.yaml, in
// its order: ConfigMap keys (optional) as {name, configMap, key}, and the entries that are
// not, by name.
var chartRepoServerEnv = [][3]string{
	{"ARGOCD_REPO_SERVER_NAME"}, // value: the Deployment's name
	{"ARGOCD_RECONCILIATION_TIMEOUT", "argocd-cm", "timeout.reconciliation"},
	{"ARGOCD_REPO_SERVER_LOGFORMAT", "argocd-cmd-params-cm", "reposerver.log.format"},
	{"ARGOCD_REPO_SERVER_LOGLEVEL", "argocd-cmd-params-cm", "reposerver.log.level"},
	{"ARGOCD_LOG_FORMAT_TIMESTAMP", "argocd-cmd-params-cm", "log.format.timestamp"},
	{"ARGOCD_REPO_SERVER_PARALLELISM_LIMIT", "argocd-cmd-params-cm", "reposerver.parallelism.limit"},
	{"ARGOCD_REPO_SERVER_LISTEN_ADDRESS", "argocd-cmd-params-cm", "reposerver.listen.address"},
	{"ARGOCD_REPO_SERVER_LISTEN_METRICS_ADDRESS", "argocd-cmd-params-cm", "reposerver.metrics.listen.address"},
	{"ARGOCD_REPO_SERVER_DISABLE_TLS", "argocd-cmd-params-cm", "reposerver.disable.tls"},
	{"ARGOCD_TLS_MIN_VERSION", "argocd-cmd-params-cm", "reposerver.tls.minversion"},
	{"ARGOCD_TLS_MAX_VERSION", "argocd-cmd-params-cm", "reposerver.tls.maxversion"},
	{"ARGOCD_TLS_CIPHERS", "argocd-cmd-params-cm", "reposerver.tls.ciphers"},
	{"ARGOCD_REPO_CACHE_EXPIRATION", "argocd-cmd-params-cm", "reposerver.repo.cache.expiration"},
	{"REDIS_SERVER", "argocd-cmd-params-cm", "redis.server"},
	{"REDIS_COMPRESSION", "argocd-cmd-params-cm", "redis.compression"},
	{"REDISDB", "argocd-cmd-params-cm", "redis.db"},
	{"REDIS_USERNAME"},          // secretKeyRef argocd-redis redis-username, optional
	{"REDIS_PASSWORD"},          // secretKeyRef argocd-redis auth, required (redisSecretInit)
	{"REDIS_SENTINEL_USERNAME"}, // secretKeyRef <fullname>-redis redis-sentinel-username, optional
	{"REDIS_SENTINEL_PASSWORD"}, // secretKeyRef <fullname>-redis redis-sentinel-password, optional
	{"ARGOCD_DEFAULT_CACHE_EXPIRATION", "argocd-cmd-params-cm", "reposerver.default.cache.expiration"},
	{"ARGOCD_REPO_SERVER_OTLP_ADDRESS", "argocd-cmd-params-cm", "otlp.address"},
	{"ARGOCD_REPO_SERVER_OTLP_INSECURE", "argocd-cmd-params-cm", "otlp.insecure"},
	{"ARGOCD_REPO_SERVER_OTLP_HEADERS", "argocd-cmd-params-cm", "otlp.headers"},
	{"ARGOCD_REPO_SERVER_OTLP_ATTRS", "argocd-cmd-params-cm", "otlp.attrs"},
	{"ARGOCD_REPO_SERVER_MAX_COMBINED_DIRECTORY_MANIFESTS_SIZE", "argocd-cmd-params-cm", "reposerver.max.combined.directory.manifests.size"},
	{"ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS", "argocd-cmd-params-cm", "reposerver.plugin.tar.exclusions"},
	{"ARGOCD_REPO_SERVER_PLUGIN_USE_MANIFEST_GENERATE_PATHS", "argocd-cmd-params-cm", "reposerver.plugin.use.manifest.generate.paths"},
	{"ARGOCD_REPO_SERVER_ALLOW_OUT_OF_BOUNDS_SYMLINKS", "argocd-cmd-params-cm", "reposerver.allow.oob.symlinks"},
	{"ARGOCD_REPO_SERVER_STREAMED_MANIFEST_MAX_TAR_SIZE", "argocd-cmd-params-cm", "reposerver.streamed.manifest.max.tar.size"},
	{"ARGOCD_REPO_SERVER_STREAMED_MANIFEST_MAX_EXTRACTED_SIZE", "argocd-cmd-params-cm", "reposerver.streamed.manifest.max.extracted.size"},
	{"ARGOCD_REPO_SERVER_HELM_MANIFEST_MAX_EXTRACTED_SIZE", "argocd-cmd-params-cm", "reposerver.helm.manifest.max.extracted.size"},
	{"ARGOCD_REPO_SERVER_DISABLE_HELM_MANIFEST_MAX_EXTRACTED_SIZE", "argocd-cmd-params-cm", "reposerver.disable.helm.manifest.max.extracted.size"},
	{"ARGOCD_GIT_MODULES_ENABLED", "argocd-cmd-params-cm", "reposerver.enable.git.submodule"},
	{"ARGOCD_GIT_LS_REMOTE_PARALLELISM_LIMIT", "argocd-cmd-params-cm", "reposerver.git.lsremote.parallelism.limit"},
	{"ARGOCD_GIT_REQUEST_TIMEOUT", "argocd-cmd-params-cm", "reposerver.git.request.timeout"},
	{"ARGOCD_REPO_SERVER_OCI_MANIFEST_MAX_EXTRACTED_SIZE", "argocd-cmd-params-cm", "reposerver.oci.manifest.max.extracted.size"},
	{"ARGOCD_REPO_SERVER_DISABLE_OCI_MANIFEST_MAX_EXTRACTED_SIZE", "argocd-cmd-params-cm", "reposerver.disable.oci.manifest.max.extracted.size"},
	{"ARGOCD_REPO_SERVER_OCI_LAYER_MEDIA_TYPES", "argocd-cmd-params-cm", "reposerver.oci.layer.media.types"},
	{"ARGOCD_REVISION_CACHE_LOCK_TIMEOUT", "argocd-cmd-params-cm", "reposerver.revision.cache.lock.timeout"},
	{"ARGOCD_REPO_SERVER_ENABLE_BUILTIN_GIT_CONFIG", "argocd-cmd-params-cm", "reposerver.enable.builtin.git.config"},
	{"ARGOCD_GRPC_MAX_SIZE_MB", "argocd-cmd-params-cm", "reposerver.grpc.max.size"},
	{"ARGOCD_REPO_SERVER_INCLUDE_HIDDEN_DIRECTORIES", "argocd-cmd-params-cm", "reposerver.include.hidden.directories"},
	{"HELM_CACHE_HOME"}, // value: /helm-working-dir (useEphemeralHelmWorkingDir)
	{"HELM_CONFIG_HOME"},
	{"HELM_DATA_HOME"},
}

// helmChartPod renders the repo-server as the community argo-cd chart does with the Helm
// values (chartRepoServer) for release helmRelease: repoServer.extraContainers after the
// chart's repo-server container, repoServer.volumes before the chart's nine volumes,
// repoServer.podAnnotations after its checksums, repoServer.serviceAccount name and
// annotations on its ServiceAccount. The values' own fields are taken verbatim, so the strict
// dry-run checks every field of the snippet.
func helmChartPod(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
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
	if len(rs.ExtraContainers) == 0 {
		t.Fatal("helm-values.yaml: no repoServer.extraContainers")
	}
	// argo-cd.fullname is the release name when it contains nameOverride ("argocd"), else
	// <release>-argocd; the ServiceAccount is serviceAccount.name or <fullname>-repo-server.
	fullname := helmRelease + "-argocd"
	if strings.Contains(helmRelease, "argocd") {
		fullname = helmRelease
	}
	saName := cmp.Or(rs.ServiceAccount.Name, fullname+"-repo-server")
	tag := cmp.Or(values.Global.Image.Tag, helmChartAppVersion)
	rendered := strings.NewReplacer("$FULLNAME", fullname, "$RELEASE", helmRelease, "$SERVICEACCOUNT", saName, "$ARGOCD_TAG", tag).Replace(chartRepoServer)
	objs := parse(t, helmChart, []byte(rendered))
	sa, deploy := objs[0], objs[1]
	if len(rs.ServiceAccount.Annotations) > 0 {
		sa.SetAnnotations(stringMap(rs.ServiceAccount.Annotations))
	}

	pod := deploy.Object["spec"].(map[string]any)["template"].(map[string]any)
	annotations := pod["metadata"].(map[string]any)["annotations"].(map[string]any)
	for k, v := range rs.PodAnnotations {
		annotations[k] = fmt.Sprint(v) // the chart quotes every value
	}
	spec := pod["spec"].(map[string]any)
	containers := spec["containers"].([]any)
	containers[0].(map[string]any)["env"] = chartEnv(fullname)
	spec["containers"] = append(containers, rs.ExtraContainers...)
	spec["volumes"] = append(slices.Clone(rs.Volumes), spec["volumes"].([]any)...)
	return objs
}

// chartEnv is the repo-server container's env as the chart renders it for fullname.
func chartEnv(fullname string) []any {
	secretRef := func(name, key string, optional bool) map[string]any {
		return map[string]any{"secretKeyRef": map[string]any{"name": name, "key": key, "optional": optional}}
	}
	var env []any
	for _, e := range chartRepoServerEnv {
		entry := map[string]any{"name": e[0]}
		switch e[0] {
		case "ARGOCD_REPO_SERVER_NAME":
			entry["value"] = fullname + "-repo-server"
		case "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME":
			entry["value"] = "/helm-working-dir"
		case "REDIS_USERNAME":
			entry["valueFrom"] = secretRef("argocd-redis", "redis-username", true)
		case "REDIS_PASSWORD":
			entry["valueFrom"] = secretRef("argocd-redis", "auth", false)
		case "REDIS_SENTINEL_USERNAME":
			entry["valueFrom"] = secretRef(fullname+"-redis", "redis-sentinel-username", true)
		case "REDIS_SENTINEL_PASSWORD":
			entry["valueFrom"] = secretRef(fullname+"-redis", "redis-sentinel-password", true)
		default:
			entry["valueFrom"] = map[string]any{"configMapKeyRef": map[string]any{"name": e[1], "key": e[2], "optional": true}}
		}
		env = append(env, entry)
	}
	return env
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}
