package e2e

// A bad add-on in a rollout in waves (issue 19 item 3): the health of child Applications
// counts in serve's wave gate. Two clusters, each with its add-ons Application made by the
// matrix ApplicationSet of manifests/examples (plugin generator × components, here the
// addons component only) from `dynamo-cmp serve` (from the image, as in TestArgoCDLoop);
// the add-on is a Helm chart in the loopback OCI registry (as in TestAddonsAppOfApps). A
// staged publish of global that sets the add-on's chart to a version the registry does not
// have reaches the canary's add-ons Application, whose sync succeeds (it only updates the
// child Application); the child cannot be rendered, the health check of helm-values.yaml
// makes it — and so its parent — Degraded, serve's wave gate fails the canary, halts the
// rollout and rolls global back. The cluster of the second wave never sees the bad version,
// and the canary's add-ons return to Synced/Healthy on the stable version.
//
// Lines that differ from what users apply: those of TestAddonsAppOfApps (the test's
// repositories in the AppProject and the policy, the controller's 10 s resync without jitter;
// the sidecar runs as a process), those of TestArgoCDLoop for serve (its generator
// ConfigMap's baseUrl is a loopback proxy, serve's status interval 1 s), and in the matrix
// ApplicationSet the local Git repository and the list of components (addons alone: the
// other components are what TestArgoCDLoop syncs; calico is manual sync in the example).

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const (
	waveCanary = "dev-a" // wave 1; its kube-apiserver also runs Argo CD
	waveRest   = "dev-b" // wave 2
)

// rolloutStatusJSON is the part of `dynamo-cmp rollout status -o json` the test reads.
type rolloutStatusJSON struct {
	Rollouts []struct {
		Layer  string `json:"layer"`
		State  string `json:"state"`
		Stable int    `json:"stable"`
		Target int    `json:"target"`
		Head   int    `json:"head"`
		Reason string `json:"reason"`
		Log    []struct {
			Event string `json:"event"`
			Wave  int    `json:"wave"`
		} `json:"log"`
	} `json:"rollouts"`
}

func TestAddonsRolloutWave(t *testing.T) {
	bin := harness.BuildDynamoCmp(t)
	harness.ArgoCDBinDir(t)
	helmDir := harness.HelmBinDir(t)
	reg := harness.StartRegistry(t, "", "")
	chartRepo := reg.Addr + "/charts"
	pushChart(t, filepath.Join(helmDir, "helm"), "oci://"+chartRepo)

	l := &loop{clusters: map[string]*harness.KubeAPI{}, dir: t.TempDir(), image: harness.BuildImage(t)}
	l.db = harness.StartDynamoDB(t)
	l.dbProxy = harness.StartTCPProxy(t, strings.TrimPrefix(l.db.Endpoint, "http://"))
	l.cliEnv = l.db.Env(loopTable)
	l.cli(t, "table", "create")
	l.putPolicy(t, `name: addons-e2e
layers: ["*"]
addons:
  sourceRepos: [`+chartRepo+`]
`)
	global := `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: global
addons:
  - name: hello
    namespace: ` + chartAddonNS + `
    project: platform
    chart: {repoURL: ` + chartRepo + `, chart: hello, version: 0.1.0}
    values:
      greeting: hello from ${cluster.name}
    syncPolicy:
      automated: {prune: true, selfHeal: true}
      syncOptions: [CreateNamespace=true]
`
	l.publishText(t, "global", global, "add-on hello 0.1.0")
	l.publishText(t, "env/dev", "apiVersion: dynamo-cmp.io/v1\nkind: Layer\nlayer: env/dev\n", "e2e")
	for _, c := range []string{waveCanary, waveRest} {
		// tier: the matrix example's generator input selects tier in (gold, silver).
		l.publishText(t, "cluster/"+c, `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/`+c+`
cluster:
  environment: dev
  region: eu-west-1
  labels: {tier: gold}
  projects: [platform]
`, "e2e")
	}

	l.mgmt = harness.StartKubeAPIServer(t)
	l.clusters[waveCanary] = l.mgmt
	l.clusters[waveRest] = harness.StartKubeAPIServer(t)
	cm, policy := serveRBACFromDocs(t)
	health := helmValuesCM(t)["resource.customizations.health.argoproj.io_Application"]
	if health == "" {
		t.Fatal("helm-values.yaml ships no configs.cm resource.customizations.health.argoproj.io_Application")
	}
	cm["resource.customizations.health.argoproj.io_Application"] = health
	l.argo = harness.StartArgoCD(t, l.mgmt, harness.ArgoCDOptions{
		PluginDir:      harness.PluginDir(t),
		PluginEnv:      append(harness.DynamoEnv(l.dbProxy.URL, loopTable), harness.PathWith(bin)),
		ConfigData:     map[string]map[string]string{"argocd-cm": cm, "argocd-rbac-cm": {"policy.csv": policy}},
		ControllerArgs: []string{"--app-resync", "10", "--app-resync-jitter", "0"},
		RepoServerPath: []string{helmDir},
	})
	for name, k := range l.clusters {
		l.argo.RegisterCluster(t, name, k)
	}
	l.declareChartRepo(t, chartRepo)
	l.repo = harness.NewGitRepo(t, map[string]string{"dynamo-cmp/README.md": "Rendered by dynamo-cmp from DynamoDB; nothing here is read.\n"})
	l.startServe(t)

	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"),
		"- https://git.example.com/platform/bootstrap.git", "- "+l.repo.URL+"\n    - "+chartRepo)
	appSet := readRepoFile(t, "manifests/examples/applicationset-matrix-components.yaml")
	appSet = replaceLine(t, appSet, "repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+l.repo.URL)
	appSet = onlyComponent(t, appSet, "addons")
	l.argo.ApplyYAML(t, project, appSet)

	parent := func(c string) string { return c + "-addons" }
	child := func(c string) string { return c + "-hello" }
	chartVersion := func(c string) string {
		app := l.argo.Application(t, child(c))
		if app == nil {
			return ""
		}
		v, _, _ := unstructured.NestedString(app.Object, "spec", "source", "targetRevision")
		return v
	}
	settled := func(c string) (bool, string) {
		for _, name := range []string{parent(c), child(c)} {
			if ok, why := appSettled(t, l.argo, name); !ok {
				return false, why
			}
		}
		if v := chartVersion(c); v != "0.1.0" {
			return false, child(c) + " targets chart version " + v
		}
		return true, ""
	}
	stable := map[string]string{} // each cluster's add-ons Application's configVersion before the bad publish
	for _, c := range []string{waveCanary, waveRest} {
		eventually(t, patience, c+"'s add-ons settled", func() (bool, string) { return settled(c) })
		stable[c] = l.pinnedVersion(t, parent(c))
		if got := l.greeting(t, c); got != "hello from "+c {
			t.Fatalf("%s: the chart's ConfigMap says %q, want %q", c, got, "hello from "+c)
		}
	}

	strategy := filepath.Join(l.dir, "strategy.yaml")
	writeFile(t, strategy, `name: global-canary
layers: [global]
waves:
  - name: canary
    namePattern: `+waveCanary+`
    bake: 30s
  - name: rest
`)
	l.cli(t, "rollout", "strategy", "put", "-f", strategy)

	l.hook.reset()
	l.publishText(t, "global", strings.Replace(global, "version: 0.1.0}", "version: 9.9.9}", 1), "hello 9.9.9, which the registry does not have")
	published := time.Now()
	status := func() (st struct {
		State, Reason string
		Stable, Head  int
		Steps         []string
	}) {
		var out rolloutStatusJSON
		if err := json.Unmarshal([]byte(l.cli(t, "rollout", "status", "--layer", "global", "-o", "json")), &out); err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rollouts {
			if r.Layer == "global" {
				st.State, st.Reason, st.Stable, st.Head = r.State, r.Reason, r.Stable, r.Head
				for _, s := range r.Log {
					st.Steps = append(st.Steps, fmt.Sprintf("%s:%d", s.Event, s.Wave))
				}
			}
		}
		return st
	}
	canaryGot9 := false
	eventually(t, 2*patience, "the rollout halted and rolled back", func() (bool, string) {
		// The second wave never gets the bad version: neither its add-ons Application nor its
		// child Application changes.
		if v := l.pinnedVersion(t, parent(waveRest)); v != stable[waveRest] {
			t.Fatalf("%s (wave 2) was served %s during the bad rollout, want it kept on %s", parent(waveRest), v, stable[waveRest])
		}
		if v := chartVersion(waveRest); v != "0.1.0" {
			t.Fatalf("%s (wave 2) targets chart version %s during the bad rollout", child(waveRest), v)
		}
		if chartVersion(waveCanary) == "9.9.9" {
			canaryGot9 = true
		}
		st := status()
		return st.State == "rolled-back", fmt.Sprintf("%s %s %v", st.State, st.Reason, st.Steps)
	})
	t.Logf("bad publish → rollout rolled back: %s", time.Since(published).Round(100*time.Millisecond))
	if !canaryGot9 {
		t.Errorf("%s (wave 1) was never seen targeting chart version 9.9.9", child(waveCanary))
	}
	st := status()
	if !strings.Contains(st.Reason, waveCanary) || !strings.Contains(st.Reason, "Degraded") {
		t.Errorf("the halt's reason should name %s and its Degraded add-ons: %q", waveCanary, st.Reason)
	}
	if st.Head != st.Stable {
		t.Errorf("global's head is %d after the rollback, want the stable %d", st.Head, st.Stable)
	}
	if slices.ContainsFunc(st.Steps, func(s string) bool { return strings.HasSuffix(s, ":2") }) {
		t.Errorf("the rollout reached wave 2: %v", st.Steps)
	}
	// What the webhook (the "portal") shows: the canary's add-ons Degraded, before the halt
	// it caused, once; then the rollback.
	if ok, why := l.hook.inOrder(waveCanary, []string{"degraded"}, []string{"rollout-halted"}, []string{"rollout-rolled-back"}); !ok {
		t.Errorf("webhook: want %s degraded, then rollout-halted, then rollout-rolled-back: %s", waveCanary, why)
	}
	if n := l.hook.count(waveCanary, "sync-failed", "degraded"); n != 1 {
		t.Errorf("webhook: %d failure events for %s, want 1", n, waveCanary)
	}

	eventually(t, patience, waveCanary+"'s add-ons back on "+stable[waveCanary]+", Synced and Healthy", func() (bool, string) {
		v := l.pinnedVersion(t, parent(waveCanary))
		ok, why := settled(waveCanary)
		return ok && v == stable[waveCanary], v + " " + why
	})
	l.waitChildHealth(t, parent(waveCanary), child(waveCanary), "Healthy") // after the rollback
	eventually(t, patience, "webhook: "+waveCanary+" synced on "+stable[waveCanary], func() (bool, string) {
		return l.hook.synced(waveCanary, stable[waveCanary]), ""
	})
	for _, c := range []string{waveCanary, waveRest} {
		if ok, why := settled(c); !ok {
			t.Errorf("%s after the rollout: %s", c, why)
		}
		if got := l.greeting(t, c); got != "hello from "+c {
			t.Errorf("%s: the chart's ConfigMap says %q after the rollout, want %q", c, got, "hello from "+c)
		}
	}
	if out := l.cli(t, "config", "history", "--layer", "global"); !strings.Contains(out, "rollout") {
		t.Errorf("config history does not show the rollback of the rollout:\n%s", out)
	}
}

// greeting is the greeting of the chart add-on's ConfigMap in cluster c ("" when missing).
func (l *loop) greeting(t testing.TB, c string) string {
	t.Helper()
	cm, err := l.clusters[c].Clientset.CoreV1().ConfigMaps(chartAddonNS).Get(context.Background(), c+"-hello-greeting", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["greeting"]
}

// onlyComponent keeps one element of the matrix example's list of components.
func onlyComponent(t testing.TB, appSet, component string) string {
	t.Helper()
	const item = "                - " // an element of the list
	lines := strings.SplitAfter(appSet, "\n")
	var out []string
	keep, found := true, false
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, item):
			keep = line == item+"component: "+component+"\n"
			found = found || keep
		case !strings.HasPrefix(line, "                  "): // not inside an element
			keep = true
		}
		if keep {
			out = append(out, line)
		}
	}
	if !found {
		t.Fatalf("the matrix example lists no component %s", component)
	}
	return strings.Join(out, "")
}
