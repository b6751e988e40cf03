package e2e

// App of apps with the real Argo CD control plane (issue 19 item 3): the add-ons Application
// of a cluster (split as the examples split it: components [addons], destination Argo CD's
// own namespace; pinned to a configVersion, as serve's plugin generator pins it — see
// pinAddons for why not `latest`) renders one Application per add-on; Argo CD creates them, they sync their sources into the cluster and turn Healthy,
// and their health rolls up into the parent through the health check helm-values.yaml ships.
// The add-ons are what users run: a Helm chart from an OCI registry (the loopback
// distribution registry; the repo-server runs the helm its Argo CD version ships: v4.3.2
// with v3.6.2, v4.2.1 with v3.5.8) and a directory of a Git repository (a local bare
// repository through file://).
//
// Lines that differ from what users apply: the repositories are the test's (registry on
// 127.0.0.1, file:// Git) and so the AppProject's sourceRepos name them; a dynamo-cmp policy
// allows those loopback and file repositories (the default policy refuses loopback
// sources); the application controller resyncs every 10 s without jitter, as in
// TestArgoCDLoop; the test removes the foregroundDeletion finalizer of a pruned Application,
// as kube-controller-manager's garbage collector would (the harness runs none). The sidecar
// runs as a process (PluginDir), as in TestOCISourceBootstrap.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const (
	addonsApp     = cluster + "-addons"     // the add-ons Application of the cluster (parent)
	chartAddonApp = cluster + "-hello"      // docs/config.md: <cluster>-<addon> for a name without "-"
	gitAddonApp   = cluster + "-dashboards" // likewise
	chartAddonNS  = "hello"
	gitAddonNS    = "dashboards"
	chartAddonCM  = cluster + "-hello-greeting" // the chart's ConfigMap: <release>-greeting
	gitAddonCM    = "grafana-dashboards"
)

var applicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

func TestAddonsAppOfApps(t *testing.T) {
	bin := harness.BuildDynamoCmp(t)
	harness.ArgoCDBinDir(t)
	helmDir := harness.HelmBinDir(t)
	reg := harness.StartRegistry(t, "", "")

	// The chart add-on: a chart pushed to the registry with helm, as a platform team does.
	chartRepo := reg.Addr + "/charts" // Argo CD's Helm OCI repositories have no scheme
	pushChart(t, filepath.Join(helmDir, "helm"), "oci://"+chartRepo)
	// The Git add-on: a directory of plain manifests.
	addonGit := harness.NewGitRepo(t, map[string]string{"dashboards/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + gitAddonCM + `
  namespace: ` + gitAddonNS + `
data:
  cluster.json: '{"title": "cluster"}'
`})

	l := &loop{clusters: map[string]*harness.KubeAPI{}, dir: t.TempDir()}
	l.db = harness.StartDynamoDB(t)
	l.cliEnv = l.db.Env(loopTable)
	l.cli(t, "table", "create")
	// The security owners allow the layers' add-ons to install from the test's repositories
	// (the default policy refuses loopback addresses as sources). Every layer that writes an
	// add-on entry is judged, the cluster layer's values too.
	l.putPolicy(t, `name: addons-e2e
layers: ["*"]
addons:
  sourceRepos: [`+chartRepo+`, `+addonGit.URL+`]
`)
	l.publishText(t, "global", `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: global
addons:
  - name: hello
    namespace: `+chartAddonNS+`
    project: platform
    chart: {repoURL: `+chartRepo+`, chart: hello, version: 0.1.0}
    values:
      greeting: hello from global
    syncPolicy:
      automated: {prune: true, selfHeal: true}
      syncOptions: [CreateNamespace=true]
  - name: dashboards
    namespace: `+gitAddonNS+`
    project: platform
    git: {repoURL: `+addonGit.URL+`, path: dashboards, revision: HEAD}
    syncPolicy:
      automated: {prune: true, selfHeal: true}
      syncOptions: [CreateNamespace=true]
`, "add-ons")
	l.publishText(t, "env/dev", "apiVersion: dynamo-cmp.io/v1\nkind: Layer\nlayer: env/dev\n", "e2e")
	clusterLayer := `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/` + cluster + `
cluster:
  environment: dev
  region: eu-west-1
  projects: [platform]
addons:
  - name: hello
    values:
      greeting: hello from ` + cluster + `
`
	l.publishText(t, "cluster/"+cluster, clusterLayer, "e2e")

	l.mgmt = harness.StartKubeAPIServer(t)
	l.clusters[cluster] = l.mgmt
	health := helmValuesCM(t)["resource.customizations.health.argoproj.io_Application"]
	if health == "" {
		t.Fatal("helm-values.yaml ships no configs.cm resource.customizations.health.argoproj.io_Application")
	}
	l.argo = harness.StartArgoCD(t, l.mgmt, harness.ArgoCDOptions{
		PluginDir:      harness.PluginDir(t),
		PluginEnv:      append(harness.DynamoEnv(l.db.Endpoint, loopTable), harness.PathWith(bin)),
		ConfigData:     map[string]map[string]string{"argocd-cm": {"resource.customizations.health.argoproj.io_Application": health}},
		ControllerArgs: []string{"--app-resync", "10", "--app-resync-jitter", "0"},
		RepoServerPath: []string{helmDir},
	})
	l.argo.RegisterBootstrapCluster(t, cluster, l.mgmt) // docs/install.md step 5
	l.declareChartRepo(t, chartRepo)
	l.repo = harness.NewGitRepo(t, map[string]string{"dynamo-cmp/README.md": "Rendered by dynamo-cmp from DynamoDB; nothing here is read.\n"})

	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"),
		"- https://git.example.com/platform/bootstrap.git", "- "+l.repo.URL+"\n    - "+chartRepo+"\n    - "+addonGit.URL)
	l.argo.ApplyYAML(t, project)
	l.pinAddons(t)

	t.Run("children synced and healthy", func(t *testing.T) {
		eventually(t, patience, "add-ons synced", func() (bool, string) {
			for _, name := range []string{addonsApp, chartAddonApp, gitAddonApp} {
				if ok, why := appSettled(t, l.argo, name); !ok {
					return false, why
				}
			}
			return true, ""
		})
		cm := l.configMap(t, chartAddonNS, chartAddonCM)
		if cm == nil || cm.Data["greeting"] != "hello from "+cluster {
			t.Errorf("chart add-on: ConfigMap %s/%s = %v, want greeting %q (the cluster layer's value over global's)", chartAddonNS, chartAddonCM, cm, "hello from "+cluster)
		}
		if cm := l.configMap(t, gitAddonNS, gitAddonCM); cm == nil {
			t.Errorf("git add-on: ConfigMap %s/%s missing", gitAddonNS, gitAddonCM)
		}
		// The children are resources of the parent, each with its health as the health check
		// of argocd-cm reads it (Argo CD 3 keeps resource health out of status.resources;
		// `argocd app get` shows it).
		for _, name := range []string{chartAddonApp, gitAddonApp} {
			l.waitChildHealth(t, addonsApp, name, "Healthy")
		}
	})

	t.Run("a bad chart version degrades the parent", func(t *testing.T) {
		l.publishText(t, "cluster/"+cluster, strings.Replace(clusterLayer, "  - name: hello\n", "  - name: hello\n    chart: {version: 9.9.9}\n", 1), "no such chart version")
		l.pinAddons(t)
		eventually(t, patience, "parent Degraded", func() (bool, string) {
			st := harness.Status(l.argo.Application(t, addonsApp))
			child := harness.Status(l.argo.Application(t, chartAddonApp))
			return st.Health == "Degraded", "parent " + st.Health + "; child " + child.Health + " " + strings.Join(child.Conditions, "; ")
		})
		l.waitChildHealth(t, addonsApp, chartAddonApp, "Degraded") // it cannot be rendered
		l.publishText(t, "cluster/"+cluster, clusterLayer, "back to 0.1.0")
		l.pinAddons(t)
		eventually(t, patience, "healthy again", func() (bool, string) {
			if v, _, _ := unstructured.NestedString(l.argo.Application(t, chartAddonApp).Object, "spec", "source", "targetRevision"); v != "0.1.0" {
				return false, chartAddonApp + " targets " + v
			}
			for _, name := range []string{addonsApp, chartAddonApp} {
				if ok, why := appSettled(t, l.argo, name); !ok {
					return false, why
				}
			}
			return true, ""
		})
	})

	t.Run("switched off in a higher layer", func(t *testing.T) {
		l.publishText(t, "cluster/"+cluster, clusterLayer+"  - name: dashboards\n    enabled: false\n", "dashboards off")
		l.pinAddons(t)
		eventually(t, patience, gitAddonApp+" pruned", func() (bool, string) {
			app := l.argo.Application(t, gitAddonApp)
			if app != nil && app.GetDeletionTimestamp() == nil {
				return false, gitAddonApp + " still there: " + harness.Status(app).Sync
			}
			return true, ""
		})
		// Argo CD prunes with foreground propagation: the API server adds the finalizer
		// foregroundDeletion, which the garbage collector of kube-controller-manager removes
		// once the object's dependents are gone. This test's clusters run no
		// kube-controller-manager; the Application owns nothing, so do what its garbage
		// collector does at once.
		l.dropForegroundFinalizer(t, gitAddonApp)
		eventually(t, patience, gitAddonApp+" removed", func() (bool, string) {
			if app := l.argo.Application(t, gitAddonApp); app != nil {
				return false, gitAddonApp + " still there"
			}
			return appSettled(t, l.argo, addonsApp)
		})
		// No resources-finalizer on the rendered Applications: pruning the Application
		// leaves what it deployed (docs/config.md).
		if cm := l.configMap(t, gitAddonNS, gitAddonCM); cm == nil {
			t.Errorf("git add-on switched off: its ConfigMap %s/%s was deleted; docs/config.md says the objects stay", gitAddonNS, gitAddonCM)
		}
		if ok, why := appSettled(t, l.argo, chartAddonApp); !ok {
			t.Errorf("the other add-on: %s", why)
		}
	})
}

// pinAddons applies the cluster's add-ons Application pinned to the configVersion its layers
// resolve to now (`dynamo-cmp clusters list`): manifests/examples/application-single-cluster.yaml
// split as the examples split add-ons (components [addons], destination Argo CD's namespace
// on the hub), which is what serve's plugin generator does for the matrix example. A pinned
// version changes the Application's spec, so Argo CD syncs it at once; following latest,
// automated sync skips a revision it has synced and only selfHeal re-applies, after a backoff
// growing to minutes (DESIGN.md).
func (l *loop) pinAddons(t testing.TB) {
	t.Helper()
	var clusters []struct{ Cluster, ConfigVersion string }
	if err := json.Unmarshal([]byte(l.cli(t, "clusters", "list", "-o", "json")), &clusters); err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, c := range clusters {
		if c.Cluster == cluster {
			version = c.ConfigVersion
		}
	}
	if version == "" {
		t.Fatalf("clusters list names no %s: %v", cluster, clusters)
	}
	app := readRepoFile(t, "manifests/examples/application-single-cluster.yaml")
	app = replaceLine(t, app, "name: dev-k3s-bootstrap", "name: "+addonsApp)
	app = replaceLine(t, app, "repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+l.repo.URL)
	app = replaceLine(t, app, "string: g1.e1.c1", "string: "+version)
	app = replaceLine(t, app, "array: [namespaces, rbac, network, calico, manifests]", "array: [addons]")
	app = replaceLine(t, app, "  destination:\n    name: dev-k3s\n", "  destination:\n    server: https://kubernetes.default.svc\n    namespace: argocd\n")
	l.argo.ApplyYAML(t, app)
}

// dropForegroundFinalizer removes the finalizer foregroundDeletion from a deleted
// Application, as the garbage collector does when it has no dependents.
func (l *loop) dropForegroundFinalizer(t testing.TB, name string) {
	t.Helper()
	app := l.argo.Application(t, name)
	if app == nil {
		return
	}
	var keep []string
	for _, f := range app.GetFinalizers() {
		if f != metav1.FinalizerDeleteDependents {
			keep = append(keep, f)
		}
	}
	if len(keep) == len(app.GetFinalizers()) {
		return
	}
	if len(keep) > 0 {
		t.Errorf("Application %s has finalizers %v besides foregroundDeletion: deleting it would delete the add-on's objects", name, keep)
	}
	app.SetFinalizers(keep)
	if _, err := l.mgmt.Dynamic.Resource(applicationGVR).Namespace("argocd").Update(context.Background(), app, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// declareChartRepo declares the Helm OCI repository of the add-on charts as Argo CD's docs
// declare one (a repository Secret of type helm, enableOCI; plain HTTP on loopback).
func (l *loop) declareChartRepo(t testing.TB, chartRepo string) {
	t.Helper()
	repoSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "repo-charts", Namespace: "argocd",
		Labels: map[string]string{"argocd.argoproj.io/secret-type": "repository"}},
		StringData: map[string]string{"type": "helm", "name": "charts", "url": chartRepo, "enableOCI": "true", "insecureOCIForceHttp": "true"}}
	if _, err := l.mgmt.Clientset.CoreV1().Secrets("argocd").Create(context.Background(), repoSecret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitChildHealth waits until the HEALTH column of the child Application's row in `argocd
// app get argocd/<parent>` says want. That row is the parent's resource tree, which the
// application controller writes apart from the Applications' status: right after the parent
// settles it may still show a child as Missing.
func (l *loop) waitChildHealth(t testing.TB, parent, child, want string) {
	t.Helper()
	eventually(t, patience, parent+": child "+child+" "+want, func() (bool, string) {
		h := l.childHealthOf(t, parent, child)
		return h == want, "health " + strconv.Quote(h)
	})
}

// childHealthOf is the HEALTH column of the child Application's row in `argocd app get
// argocd/<parent>`.
func (l *loop) childHealthOf(t testing.TB, parent, child string) string {
	t.Helper()
	out, errOut, err := l.argo.CLI(t, "app", "get", "argocd/"+parent)
	if err != nil {
		t.Fatalf("argocd app get: %v\n%s%s", err, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		// GROUP KIND NAMESPACE NAME STATUS HEALTH ...
		if len(f) >= 6 && f[0] == "argoproj.io" && f[1] == "Application" && f[3] == child {
			return f[5]
		}
	}
	t.Logf("argocd app get %s shows no row for %s:\n%s", parent, child, out)
	return ""
}

// appSettled: Synced and Healthy, without conditions.
func appSettled(t testing.TB, a *harness.ArgoCD, name string) (bool, string) {
	t.Helper()
	app := a.Application(t, name)
	if app == nil {
		return false, "no Application " + name
	}
	st := harness.Status(app)
	if st.Sync != "Synced" || st.Health != "Healthy" || len(st.Conditions) > 0 {
		return false, name + ": " + st.Sync + "/" + st.Health + " " + strings.Join(st.Conditions, "; ")
	}
	return true, ""
}

func (l *loop) configMap(t testing.TB, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := l.mgmt.Clientset.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func (l *loop) putPolicy(t testing.TB, text string) {
	t.Helper()
	f := filepath.Join(l.dir, "policy.yaml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	l.cli(t, "policy", "put", "-f", f)
}

// helmValuesCM is configs.cm of manifests/examples/helm-values.yaml.
func helmValuesCM(t testing.TB) map[string]string {
	t.Helper()
	var v struct {
		Configs struct {
			CM map[string]string `json:"cm"`
		} `json:"configs"`
	}
	if err := sigsyaml.Unmarshal([]byte(readRepoFile(t, "manifests/examples/helm-values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	return v.Configs.CM
}

// pushChart packages a one-ConfigMap chart hello 0.1.0 and pushes it to repo with helm.
func pushChart(t testing.TB, helm, repo string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"hello/Chart.yaml":  "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
		"hello/values.yaml": "greeting: hello\n",
		"hello/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-greeting
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		cmd := exec.Command(helm, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "HELM_CACHE_HOME=" + dir + "/cache",
			"HELM_CONFIG_HOME=" + dir + "/config", "HELM_DATA_HOME=" + dir + "/data"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("package", "hello")
	run("push", "hello-0.1.0.tgz", repo, "--plain-http")
}
