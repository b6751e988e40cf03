package e2e

// The whole loop with the real Argo CD control plane (issue 11; v3.6.2, or v3.5.8 with
// compat/go.mod): the ApplicationSet controller asks `dynamo-cmp serve` for clusters, the application controller renders each
// cluster through the argocd-cmp-server sidecar running `dynamo-cmp generate` and syncs the
// objects into that cluster's own kube-apiserver; serve follows the rollouts through the Argo
// CD API with a real account token. One control plane is shared by every scenario (subtests,
// in order: each starts from where the previous one left the loop).
//
// What is applied is what users apply (manifests/examples, manifests/serve/configmap.yaml,
// the config objects of Argo CD's module, the RBAC lines of docs/serve.md). The lines that
// differ, and why:
//   - ApplicationSet and AppProject: the Git repository is a local bare repository
//     (file://…) instead of https://git.example.com/platform/bootstrap.git — no network here;
//   - generator ConfigMap: baseUrl is a loopback proxy standing for serve's Service instead
//     of the in-cluster Service URL — serve runs as processes, not pods behind a Service;
//   - the application controller's reconciliation period (argocd-cm timeout.reconciliation,
//     --app-resync) is 10 s instead of 120 s, and its jitter (timeout.reconciliation.jitter,
//     --app-resync-jitter) 0 instead of up to 60 s, so "recovers by itself" after an outage
//     is seen within seconds, not minutes;
//     nothing else is tuned. The ApplicationSet keeps the example's sync retry policy (limit 3,
//     10 s × 2ⁿ): serve judges a failed sync attempt while Argo CD retries it, and ends the
//     retries of a version no longer served, so a bad publish does not wait for them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ktypes "k8s.io/apimachinery/pkg/types"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const (
	loopTable   = "dynamo-cmp"
	appSetName  = "cluster-bootstrap"
	components  = "namespaces,rbac,network,calico,manifests"
	patience    = 3 * time.Minute // the machine is shared and noisy: poll generously
	prodCluster = "prod-eu"
	newCluster  = "dev-new"
	labCluster  = "lab" // environment lab: not selected by the ApplicationSet; a hand-made Application following latest
)

var appSetGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applicationsets"}

// loop is the running product with the full Argo CD control plane.
type loop struct {
	db       *harness.DynamoDB
	dbProxy  *harness.TCPProxy // plugin and serve reach DynamoDB through it (cut = "DynamoDB down")
	cliEnv   []string          // the operator's environment: DynamoDB directly
	mgmt     *harness.KubeAPI  // runs Argo CD; also the dev-k3s cluster
	clusters map[string]*harness.KubeAPI
	argo     *harness.ArgoCD
	repo     *harness.GitRepo
	serve    *serveProc
	// serveSvc stands for serve's Service: the generator ConfigMap's baseUrl, forwarding to
	// the replica that serves (a second one takes over when the first is killed).
	serveSvc *harness.TCPProxy
	genToken string
	argoTok  string
	hook     *webhook
	dir      string
	image    *harness.Image // the product image (sidecar and serve)
}

// layerFiles are the layers the loop starts with: the repository's examples (global, env/dev,
// cluster/dev-k3s) and a prod environment with one cluster.
var extraLayers = map[string]string{
	"env/prod": `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: env/prod
settings:
  commonLabels:
    environment: prod
namespaces:
  - namespace: prod-team
    labels: {team: backend}
    resourceQuota: {cpu: "16", memory: 32Gi}
`,
	"cluster/" + prodCluster: `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/` + prodCluster + `
cluster:
  environment: prod
  region: eu-central-1
  projects: [platform]
namespaces:
  - namespace: payments
    labels: {team: payments}
`,
	"cluster/" + labCluster: `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/` + labCluster + `
cluster:
  environment: lab
  region: eu-west-1
  projects: [platform]
namespaces:
  - namespace: lab
    labels: {team: lab}
    resourceQuota: {cpu: "1", memory: 1Gi}
`,
	"cluster/" + newCluster: `apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/` + newCluster + `
cluster:
  environment: dev
  region: eu-west-1
  projects: [platform]
namespaces:
  - namespace: search
    labels: {team: search}
`,
}

func startLoop(t testing.TB) *loop {
	t.Helper()
	harness.BuildDynamoCmp(t) // the operator's binary (l.cli)
	harness.ArgoCDBinDir(t)   // start (or find) the Argo CD build before the servers
	// The CMP sidecar and serve run from the product image, as their manifests run it.
	l := &loop{clusters: map[string]*harness.KubeAPI{}, dir: t.TempDir(), image: harness.BuildImage(t)}
	l.db = harness.StartDynamoDB(t)
	l.dbProxy = harness.StartTCPProxy(t, strings.TrimPrefix(l.db.Endpoint, "http://"))
	l.cliEnv = l.db.Env(loopTable)
	l.cli(t, "table", "create")
	for _, layer := range []string{"global", "env/dev", "cluster/" + cluster} {
		l.cli(t, "config", "publish", "-f", harness.RepoRoot(t)+"/examples/layers/"+layer+".yaml", "--layer", layer, "-m", "e2e", "--actor", "e2e")
	}
	for _, layer := range []string{"env/prod", "cluster/" + prodCluster} {
		l.publishText(t, layer, extraLayers[layer], "e2e")
	}

	l.mgmt = harness.StartKubeAPIServer(t)
	l.clusters[cluster] = l.mgmt
	l.clusters[prodCluster] = harness.StartKubeAPIServer(t)

	// Argo CD's config objects, with the account and RBAC lines docs/serve.md tells users to add.
	cm, policy := serveRBACFromDocs(t)
	l.argo = harness.StartArgoCD(t, l.mgmt, harness.ArgoCDOptions{
		PluginImage: l.image,
		PluginEnv:   harness.DynamoEnv(l.dbProxy.URL, loopTable),
		ConfigData: map[string]map[string]string{
			"argocd-cm":      cm,
			"argocd-rbac-cm": {"policy.csv": policy},
		},
		// timeout.reconciliation and timeout.reconciliation.jitter of argocd-cm, which reach
		// the controller as these flags' environment variables in a real install: 10 s
		// instead of 120 s, no jitter instead of up to 60 s.
		ControllerArgs: []string{"--app-resync", "10", "--app-resync-jitter", "0"},
	})
	for name, k := range l.clusters {
		l.argo.RegisterCluster(t, name, k)
	}
	l.repo = harness.NewGitRepo(t, map[string]string{"dynamo-cmp/README.md": "Rendered by dynamo-cmp from DynamoDB; nothing here is read.\n"})

	l.startServe(t)

	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"),
		"- https://git.example.com/platform/bootstrap.git", "- "+l.repo.URL)
	appSet := replaceLine(t, readRepoFile(t, "manifests/examples/applicationset-plugin-generator.yaml"),
		"repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+l.repo.URL)
	l.argo.ApplyYAML(t, project, appSet)
	return l
}

// startServe installs serve's generator as docs/serve.md does (the token Secret, the
// generator ConfigMap naming serveSvc) and starts serve from the image, with the webhook
// receiver and an Argo CD account token (the account and RBAC lines of docs/serve.md must be
// in Argo CD's config).
func (l *loop) startServe(t testing.TB) {
	t.Helper()
	genToken := "e2e-generator-token-0123456789abcdef"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "dynamo-cmp-generator", Namespace: "argocd",
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"}}, StringData: map[string]string{"token": genToken}}
	if _, err := l.mgmt.Clientset.CoreV1().Secrets("argocd").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.hook = startWebhook(t)
	argoToken := l.argo.GenerateToken(t, "dynamo-cmp")
	l.genToken, l.argoTok = genToken, argoToken
	l.serve = newServe(t, l, genToken, argoToken)
	l.serveSvc = harness.StartTCPProxy(t, l.serve.addr)
	cmYAML := readRepoFile(t, "manifests/serve/configmap.yaml")
	cmYAML = replaceLine(t, cmYAML, "baseUrl: http://dynamo-cmp-generator.argocd.svc:8080", "baseUrl: "+l.serveSvc.URL)
	cmYAML = strings.Replace(cmYAML, "metadata:\n", "metadata:\n  namespace: argocd\n", 1)
	l.argo.ApplyYAML(t, cmYAML)
	l.serve.start(t)
}

func (l *loop) cli(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := harness.RunDynamoCmp(t, l.cliEnv, args...)
	if err != nil {
		t.Fatalf("dynamo-cmp %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (l *loop) publishText(t testing.TB, layer, text, msg string) {
	t.Helper()
	f := filepath.Join(l.dir, strings.ReplaceAll(layer, "/", "-")+fmt.Sprint(time.Now().UnixNano())+".yaml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	l.cli(t, "config", "publish", "-f", f, "--layer", layer, "-m", msg, "--actor", "e2e")
}

// addLatestApp registers the lab cluster (its own kube-apiserver) and applies
// manifests/examples/application-single-cluster.yaml for it, following latest. Lines that
// differ from the example: name lab-bootstrap and cluster lab (the example names dev-k3s,
// which the ApplicationSet already renders), the local repoURL, and no configVersion
// parameter (the example pins g1.e1.c1; this Application follows latest), and selfHeal off:
// with it, Argo CD re-applies a re-rendered latest after a backoff of 15 s to minutes, which
// would hide whether a publish alone makes the Application sync.
func (l *loop) addLatestApp(t testing.TB) {
	t.Helper()
	l.publishText(t, "cluster/"+labCluster, extraLayers["cluster/"+labCluster], "lab")
	l.clusters[labCluster] = harness.StartKubeAPIServer(t)
	l.argo.RegisterCluster(t, labCluster, l.clusters[labCluster])
	app := readRepoFile(t, "manifests/examples/application-single-cluster.yaml")
	app = replaceLine(t, app, "name: dev-k3s-bootstrap", "name: "+appName(labCluster))
	app = replaceLine(t, app, "string: dev-k3s", "string: "+labCluster)
	app = replaceLine(t, app, "name: dev-k3s\n", "name: "+labCluster+"\n")
	app = replaceLine(t, app, "repoURL: https://git.example.com/platform/bootstrap.git", "repoURL: "+l.repo.URL)
	app = replaceLine(t, app, "        - name: configVersion\n          string: g1.e1.c1\n", "")
	app = replaceLine(t, app, "selfHeal: true", "selfHeal: false")
	l.argo.ApplyYAML(t, app)
}

func (l *loop) quotaCPU(t testing.TB, cluster, namespace string) string {
	t.Helper()
	q, err := l.clusters[cluster].Clientset.CoreV1().ResourceQuotas(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(q.Items) == 0 {
		return fmt.Sprint("no quota ", err)
	}
	v := q.Items[0].Spec.Hard[corev1.ResourceCPU]
	return v.String()
}

// rendered is what `config render` prints for a cluster with the ApplicationSet's components.
func (l *loop) rendered(t testing.TB, name string) []*unstructured.Unstructured {
	t.Helper()
	out := l.cli(t, "config", "render", "--cluster", name, "--components", components, "-o", "json")
	objs, err := harness.ParseManifests(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func appName(cluster string) string { return cluster + "-bootstrap" }

// liveObjects reads every object of the list from the cluster's API server (nil entries for
// missing ones).
func (l *loop) live(t testing.TB, cluster string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	k := l.clusters[cluster]
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		got, err := k.Get(context.Background(), o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName())
		if err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) { // a kind without its CRD: missing
			t.Fatalf("%s: reading %s: %v", cluster, harness.ObjectRef(o), err)
		}
		if err == nil {
			out[i] = got
		}
	}
	return out
}

// missing lists the rendered objects absent from the cluster (or being deleted).
func (l *loop) missing(t testing.TB, cluster string) []string {
	t.Helper()
	want := l.rendered(t, cluster)
	var miss []string
	for i, got := range l.live(t, cluster, want) {
		if got == nil || got.GetDeletionTimestamp() != nil {
			miss = append(miss, harness.ObjectRef(want[i]))
		}
	}
	return miss
}

// versions maps every rendered object of the cluster to its resourceVersion.
func (l *loop) versions(t testing.TB, cluster string, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	m := map[string]string{}
	for i, got := range l.live(t, cluster, objs) {
		if got != nil {
			m[harness.ObjectRef(objs[i])] = got.GetResourceVersion()
		}
	}
	return m
}

func (l *loop) appVersion(t testing.TB, cluster string) string {
	t.Helper()
	return l.pinnedVersion(t, appName(cluster))
}

// pinnedVersion is the configVersion plugin parameter of the Application ("": none, or no
// such Application).
func (l *loop) pinnedVersion(t testing.TB, name string) string {
	t.Helper()
	app := l.argo.Application(t, name)
	if app == nil {
		return ""
	}
	params, _, _ := unstructured.NestedSlice(app.Object, "spec", "source", "plugin", "parameters")
	for _, p := range params {
		m, _ := p.(map[string]any)
		if m["name"] == "configVersion" {
			s, _ := m["string"].(string)
			return s
		}
	}
	return ""
}

// settled: the Application is Synced and Healthy on its current spec, without conditions,
// and every rendered object is in the cluster.
func (l *loop) settled(t testing.TB, cluster string) (bool, string) {
	t.Helper()
	app := l.argo.Application(t, appName(cluster))
	if app == nil {
		return false, "no Application " + appName(cluster)
	}
	st := harness.Status(app)
	if st.Sync != "Synced" || st.Health != "Healthy" || len(st.Conditions) > 0 {
		return false, fmt.Sprintf("%s: %+v", appName(cluster), st)
	}
	if miss := l.missing(t, cluster); len(miss) > 0 {
		return false, fmt.Sprintf("%s: missing %v", cluster, miss)
	}
	return true, ""
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			t.Logf("%s: after %s", what, time.Since(deadline.Add(-timeout)).Round(100*time.Millisecond))
			return
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestArgoCDLoop(t *testing.T) {
	t.Parallel()
	l := startLoop(t)
	ctx := context.Background()
	top := t // servers started by a scenario serve the ones after it: their cleanup is the test's

	t.Run("1 bootstrap: one Application per cluster, Synced and Healthy, every rendered object present", func(t *testing.T) {
		for _, c := range []string{cluster, prodCluster} {
			eventually(t, patience, appName(c)+" settled", func() (bool, string) { return l.settled(t, c) })
		}
		if n := len(l.argo.Applications(t)); n != 2 {
			t.Errorf("%d Applications, want 2 (one per registered cluster)", n)
		}
		// Each cluster has its own configuration: prod-eu has prod-team and no dev-team, dev-k3s
		// the opposite.
		has := func(c, ns string) bool {
			_, err := l.clusters[c].Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return err == nil
		}
		if !has(prodCluster, "prod-team") || has(prodCluster, "dev-team") || !has(cluster, "dev-team") || has(cluster, "prod-team") {
			t.Errorf("per-cluster configuration not where it belongs: prod-eu prod-team=%v dev-team=%v, dev-k3s dev-team=%v prod-team=%v",
				has(prodCluster, "prod-team"), has(prodCluster, "dev-team"), has(cluster, "dev-team"), has(cluster, "prod-team"))
		}
	})

	t.Run("6 Argo CD's views: app manifests and app diff show exactly our stream, parameters announced", func(t *testing.T) {
		out, errOut, err := l.argo.CLI(t, "app", "manifests", "argocd/"+appName(cluster), "--source", "git")
		if err != nil {
			t.Fatalf("argocd app manifests: %v\n%s", err, errOut)
		}
		got, err := harness.ParseManifests(out)
		if err != nil {
			t.Fatal(err)
		}
		want := l.rendered(t, cluster)
		if len(got) != len(want) {
			t.Fatalf("argocd app manifests: %d objects, config render %d", len(got), len(want))
		}
		// Argo CD lists them in its own order: compare by object.
		byRef := map[string]*unstructured.Unstructured{}
		for _, o := range want {
			byRef[harness.ObjectRef(o)] = o
		}
		for _, o := range got {
			g := o.DeepCopy()
			ann := g.GetAnnotations()
			delete(ann, "argocd.argoproj.io/tracking-id") // Argo CD's own tracking, added to every object
			if len(ann) == 0 {
				ann = nil
			}
			g.SetAnnotations(ann)
			w := byRef[harness.ObjectRef(o)]
			if w == nil {
				t.Errorf("argocd app manifests shows %s, which config render does not print", harness.ObjectRef(o))
				continue
			}
			delete(byRef, harness.ObjectRef(o))
			if !jsonEqual(t, g.Object, w.Object) {
				t.Errorf("%s differs from config render:\nargo: %v\nwant: %v", harness.ObjectRef(o), g.Object, w.Object)
			}
		}
		for ref := range byRef {
			t.Errorf("argocd app manifests lacks %s", ref)
		}
		if out, errOut, err := l.argo.CLI(t, "app", "diff", "argocd/"+appName(cluster)); err != nil {
			t.Errorf("argocd app diff of a synced Application: %v (want no difference)\n%s%s", err, out, errOut)
		}
		details := l.appDetails(t, appName(cluster))
		for _, name := range []string{"cluster", "environment", "configVersion", "components"} {
			if !strings.Contains(details, `"name":"`+name+`"`) {
				t.Errorf("parameter %q not announced through the API (GetAppDetails): %s", name, details)
			}
		}
	})

	t.Run("2 new cluster: published and registered, its Application appears and its objects arrive", func(t *testing.T) {
		l.clusters[newCluster] = harness.StartKubeAPIServer(top)
		l.argo.RegisterCluster(t, newCluster, l.clusters[newCluster])
		l.publishText(t, "cluster/"+newCluster, extraLayers["cluster/"+newCluster], "new cluster")
		eventually(t, patience, appName(newCluster)+" settled", func() (bool, string) { return l.settled(t, newCluster) })
	})

	t.Run("3 env change and rollback: exactly that env's clusters, exactly that entry's objects", func(t *testing.T) {
		before := map[string]map[string]string{}
		objs := map[string][]*unstructured.Unstructured{}
		for c := range l.clusters {
			objs[c] = l.rendered(t, c)
			before[c] = l.versions(t, c, objs[c])
		}
		prodVersion := l.appVersion(t, prodCluster)
		devLayer := readRepoFile(t, "examples/layers/env/dev.yaml")
		changed := strings.Replace(devLayer, `"cpu": "4"`, `"cpu": "6"`, 1)
		if changed == devLayer {
			t.Fatal("examples/layers/env/dev.yaml no longer has the dev-team quota cpu 4")
		}
		l.publishText(t, "env/dev", changed, "more cpu for dev-team")
		quotaCPU := func(c string) string { return l.quotaCPU(t, c, "dev-team") }
		for _, c := range []string{cluster, newCluster} {
			eventually(t, patience, c+": dev-team quota cpu 6", func() (bool, string) {
				cpu := quotaCPU(c)
				return cpu == "6", "cpu " + cpu
			})
			eventually(t, patience, c+" settled", func() (bool, string) { return l.settled(t, c) })
		}
		// Exactly the objects the entry renders were re-applied: the dev-team namespace entry
		// (its objects differ in config render output once the version stamp is ignored).
		newObjs := l.rendered(t, cluster)
		wantChanged := semanticallyChanged(objs[cluster], newObjs)
		after := l.versions(t, cluster, objs[cluster])
		var gotChanged []string
		for ref, rv := range before[cluster] {
			if after[ref] != rv {
				gotChanged = append(gotChanged, ref)
			}
		}
		sort.Strings(gotChanged)
		if !slices.Equal(gotChanged, wantChanged) {
			t.Errorf("a one-entry publish changed %d objects in %s, want only the entry's %d:\n got %v\nwant %v",
				len(gotChanged), cluster, len(wantChanged), gotChanged, wantChanged)
		}
		// The other environment is not touched at all.
		if v := l.appVersion(t, prodCluster); v != prodVersion {
			t.Errorf("%s's Application moved from %s to %s on a dev publish", prodCluster, prodVersion, v)
		}
		if got := l.versions(t, prodCluster, objs[prodCluster]); !mapsEqual(got, before[prodCluster]) {
			t.Errorf("%s's objects changed on a dev publish", prodCluster)
		}

		l.cli(t, "config", "rollback", "--layer", "env/dev", "--to", "1", "-m", "back", "--actor", "e2e")
		for _, c := range []string{cluster, newCluster} {
			eventually(t, patience, c+": dev-team quota back at cpu 4", func() (bool, string) {
				cpu := quotaCPU(c)
				return cpu == "4", "cpu " + cpu
			})
			eventually(t, patience, c+" settled", func() (bool, string) { return l.settled(t, c) })
		}
	})

	t.Run("4 failure never prunes", func(t *testing.T) {
		objs := l.rendered(t, cluster)
		name := appName(cluster)
		failing := func(want ...string) func() (bool, string) {
			return func() (bool, string) {
				st := harness.Status(l.argo.Application(t, name))
				all := strings.Join(st.Conditions, "\n")
				for _, w := range want {
					if !strings.Contains(all, w) {
						return false, fmt.Sprintf("%+v", st)
					}
				}
				return true, ""
			}
		}
		assertNothingDeleted := func(t *testing.T) {
			t.Helper()
			for i, got := range l.live(t, cluster, objs) {
				if got == nil || got.GetDeletionTimestamp() != nil {
					t.Errorf("%s was deleted while generation failed", harness.ObjectRef(objs[i]))
				}
			}
		}
		t.Run("DynamoDB unreachable", func(t *testing.T) {
			l.dbProxy.Cut()
			defer l.dbProxy.Restore()
			l.argo.HardRefresh(t, name)
			eventually(t, patience, name+" reports our message", failing("ComparisonError", `dynamo-cmp could not render cluster "dev-k3s"`, "cannot reach DynamoDB", "[trace "))
			time.Sleep(5 * time.Second) // a sync round with prune on would delete now
			assertNothingDeleted(t)
			l.dbProxy.Restore()
			eventually(t, patience, name+" recovers by itself", func() (bool, string) { return l.settled(t, cluster) })
		})
		t.Run("hand-edited published version", func(t *testing.T) {
			api := dynamoClient(l.db.Endpoint)
			key := map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "cluster#" + cluster},
				"sk": &types.AttributeValueMemberS{Value: "v#0000000001#namespace#payments"},
			}
			set := func(v string) {
				_, err := api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(loopTable), Key: key,
					UpdateExpression:          aws.String("SET resourceQuota.hard.cpu = :v"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: v}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			set("3")
			l.argo.HardRefresh(t, name)
			eventually(t, patience, name+" reports our message", failing("ComparisonError", "version 1 of layer cluster/dev-k3s was changed after it was published"))
			time.Sleep(5 * time.Second)
			assertNothingDeleted(t)
			set("2") // restored as published
			eventually(t, patience, name+" recovers by itself", func() (bool, string) { return l.settled(t, cluster) })
		})
		t.Run("generator unreachable: serve stopped, no Application deleted", func(t *testing.T) {
			before := len(l.argo.Applications(t))
			l.serve.stop(t)
			appsets := l.mgmt.Dynamic.Resource(appSetGVR).Namespace("argocd")
			patch := []byte(`{"metadata":{"annotations":{"` + refreshAnnotation + `":"true"}}}`)
			if _, err := appsets.Patch(ctx, appSetName, ktypes.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, patience, "the ApplicationSet reports the generator error", func() (bool, string) {
				as, err := appsets.Get(ctx, appSetName, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				conds, _, _ := unstructured.NestedSlice(as.Object, "status", "conditions")
				for _, c := range conds {
					m, _ := c.(map[string]any)
					if m["type"] == "ErrorOccurred" && m["status"] == "True" {
						return true, ""
					}
				}
				return false, fmt.Sprint(conds)
			})
			time.Sleep(5 * time.Second)
			if n := len(l.argo.Applications(t)); n != before {
				t.Errorf("%d Applications with the generator down, want %d", n, before)
			}
			for c := range l.clusters {
				if miss := l.missing(t, c); len(miss) > 0 {
					t.Errorf("%s lost objects with the generator down: %v", c, miss)
				}
			}
			// The controller leaves the refresh annotation this test set in place after the failed
			// reconcile and reconciles only when it appears; serve's refresh at start must wake
			// it all the same, well before the controller's own 3-minute retry.
			l.serve.start(t)
			eventually(t, patience/2, "the ApplicationSet reconciled again after serve's restart", func() (bool, string) {
				as, err := appsets.Get(ctx, appSetName, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				if _, stuck := as.GetAnnotations()[refreshAnnotation]; stuck {
					return false, "refresh annotation still set"
				}
				conds, _, _ := unstructured.NestedSlice(as.Object, "status", "conditions")
				for _, c := range conds {
					if m, _ := c.(map[string]any); m["type"] == "ErrorOccurred" && m["status"] == "True" {
						return false, fmt.Sprint(m["message"])
					}
				}
				return true, ""
			})
		})
	})

	t.Run("5 bad rollout: serve sees the failure through the API and rolls the layer back", func(t *testing.T) {
		eventually(t, patience, prodCluster+" settled", func() (bool, string) { return l.settled(t, prodCluster) })
		good := l.appVersion(t, prodCluster)
		objs := l.rendered(t, prodCluster)
		l.hook.reset()
		bad := extraLayers["env/prod"] + `manifests:
  - apiVersion: widgets.example.com/v1
    kind: Widget
    metadata: {name: no-such-crd, namespace: prod-team}
    spec: {size: 3}
`
		l.publishText(t, "env/prod", bad, "a Widget (its CRD is not installed)")
		eventually(t, 2*patience, "webhook: publish → failure → auto-rollback → synced", func() (bool, string) {
			return l.hook.inOrder(prodCluster, []string{"publish"}, []string{"sync-failed", "degraded"}, []string{"auto-rollback"}, []string{"synced"})
		})
		eventually(t, patience, prodCluster+" back on "+good, func() (bool, string) {
			v := l.appVersion(t, prodCluster)
			ok, why := l.settled(t, prodCluster)
			return ok && v == good, v + " " + why
		})
		for i, got := range l.live(t, prodCluster, objs) {
			if got == nil {
				t.Errorf("%s missing after the auto-rollback", harness.ObjectRef(objs[i]))
			}
		}
	})

	t.Run("8 rollout in waves: wave 1, bake, wave 2; a bad version halts in wave 1 and never reaches wave 2; the driving replica killed", func(t *testing.T) {
		l.rolloutInWaves(t, top)
	})

	// Needs serve to request the sync of latest-following automated Applications (after its
	// hard refresh; docs/serve.md): a hard refresh alone leaves an already-synced revision unsynced until selfHeal.
	t.Run("7 latest-following Application: a publish reaches the cluster", func(t *testing.T) {
		l.addLatestApp(top)
		eventually(t, patience, appName(labCluster)+" settled", func() (bool, string) { return l.settled(t, labCluster) })
		l.publishText(t, "cluster/"+labCluster, strings.Replace(extraLayers["cluster/"+labCluster], `cpu: "1"`, `cpu: "3"`, 1), "lab cpu 3")
		// selfHeal is off: only a sync requested after the publish brings the change.
		eventually(t, patience, "lab quota cpu 3", func() (bool, string) {
			cpu := l.quotaCPU(t, labCluster, "lab")
			return cpu == "3", "cpu " + cpu
		})
	})
}

func semanticallyChanged(before, after []*unstructured.Unstructured) []string {
	key := func(o *unstructured.Unstructured) map[string]any {
		c := o.DeepCopy()
		ann := c.GetAnnotations()
		delete(ann, "dynamo-cmp.io/config-version")
		if len(ann) == 0 {
			ann = nil
		}
		c.SetAnnotations(ann)
		return c.Object
	}
	old := map[string]map[string]any{}
	for _, o := range before {
		old[harness.ObjectRef(o)] = key(o)
	}
	var out []string
	for _, o := range after {
		ref := harness.ObjectRef(o)
		a, _ := json.Marshal(old[ref])
		b, _ := json.Marshal(key(o))
		if _, ok := old[ref]; ok && !bytes.Equal(a, b) {
			out = append(out, ref)
		}
	}
	sort.Strings(out)
	return out
}

func jsonEqual(t testing.TB, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var u, v any
	_ = json.Unmarshal(x, &u)
	_ = json.Unmarshal(y, &v)
	x, _ = json.Marshal(u)
	y, _ = json.Marshal(v)
	return bytes.Equal(x, y)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func replaceLine(t testing.TB, text, old, repl string) string {
	t.Helper()
	if strings.Count(text, old) != 1 {
		t.Fatalf("expected exactly one %q in the applied file", old)
	}
	return strings.Replace(text, old, repl, 1)
}

// serveRBACFromDocs reads the argocd-cm and argocd-rbac-cm lines docs/serve.md tells users to
// add for serve's Argo CD account.
func serveRBACFromDocs(t testing.TB) (cm map[string]string, policy string) {
	t.Helper()
	doc := readRepoFile(t, "docs/serve.md")
	i := strings.Index(doc, "# argocd-cm:")
	if i < 0 {
		t.Fatal("docs/serve.md no longer shows the argocd-cm line of serve's account")
	}
	block := doc[i:]
	block = block[:strings.Index(block, "```")]
	cm = map[string]string{}
	var lines []string
	target := ""
	re := regexp.MustCompile(`^#\s*(argocd-cm:|argocd-rbac-cm:)?\s*(.*)$`)
	for _, line := range strings.Split(block, "\n") {
		m := re.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if m[1] != "" {
			target = m[1]
		}
		switch target {
		case "argocd-cm:":
			k, v, ok := strings.Cut(m[2], ": ")
			if ok {
				cm[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		case "argocd-rbac-cm:":
			if m[2] != "" {
				lines = append(lines, m[2])
			}
		}
	}
	if len(cm) == 0 || len(lines) == 0 {
		t.Fatalf("could not read serve's account and RBAC lines from docs/serve.md:\n%s", block)
	}
	return cm, strings.Join(lines, "\n") + "\n"
}

func dynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("e2e", "e2e", ""),
	})
}

// appDetails asks the Argo CD API what the UI asks for an Application's parameters
// (RepositoryService.GetAppDetails), as admin.
func (l *loop) appDetails(t testing.TB, name string) string {
	t.Helper()
	app := l.argo.Application(t, name)
	src, _, _ := unstructured.NestedMap(app.Object, "spec", "source")
	body, _ := json.Marshal(map[string]any{"source": src, "appName": name, "appProject": "platform"})
	tok := l.sessionToken(t)
	req, _ := http.NewRequest(http.MethodPost, l.argo.URL+"/api/v1/repositories/"+urlPathEscape(l.repo.URL)+"/appdetails", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GetAppDetails: %s: %s", resp.Status, data)
	}
	return string(data)
}

func (l *loop) sessionToken(t testing.TB) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": l.argo.AdminPassword})
	resp, err := http.Post(l.argo.URL+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("argocd session: %v %s", err, resp.Status)
	}
	return out.Token
}

func urlPathEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "/", "%2F", ":", "%3A")
	return r.Replace(s)
}

// serveProc is `dynamo-cmp serve` in a container of the product image (uid 999, read-only
// root, as manifests/serve/deployment.yaml runs it) on a fixed loopback address (the generator
// ConfigMap names it), stoppable and restartable.
type serveProc struct {
	// base and addr are the generator API's; ops is the base URL of health and metrics.
	base, addr, ops string
	args, env       []string
	ctr             *harness.Container
	logPath         string
	image           *harness.Image
	owner           testing.TB // the container lives as long as this test (the serveProc's)
}

func newServe(t testing.TB, l *loop, genToken, argoToken string) *serveProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	opsAddr := freeAddr(t)
	dir := l.dir
	kubeCA := serverCA(t, l.mgmt.Config.Host, filepath.Join(dir, "kube-ca.crt"))
	s := &serveProc{base: "http://" + addr, addr: addr, ops: "http://" + opsAddr, logPath: filepath.Join(dir, "serve-"+strings.ReplaceAll(addr, ":", "-")+".log"),
		image: l.image, owner: t}
	s.env = harness.DynamoEnv(l.dbProxy.URL, loopTable)
	s.args = []string{"serve", "--listen", addr, "--metrics-address", opsAddr,
		"--generator-token-file", writeSecret(t, dir, "generator-token", genToken),
		"--kube-url", l.mgmt.Config.Host, "--kube-token-file", writeSecret(t, dir, "kube-token", l.mgmt.Config.BearerToken),
		"--kube-ca-file", kubeCA, "--namespaces", "argocd",
		"--argocd-url", l.argo.URL, "--argocd-token-file", writeSecret(t, dir, "argocd-token", argoToken),
		"--webhook-url", l.hook.url,
		// argocd-server runs with server.insecure and the webhook receiver is an httptest
		// server: both plain http on loopback.
		"--allow-insecure-http",
		"--status-interval", "1s",
		"--auto-rollback-layers", "env/prod",
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			if data, err := os.ReadFile(s.logPath); err == nil {
				lines := strings.Split(string(data), "\n")
				if len(lines) > 60 {
					lines = lines[len(lines)-60:]
				}
				t.Logf("dynamo-cmp serve log (last lines):\n%s", strings.Join(lines, "\n"))
			}
		}
	})
	return s
}

func (s *serveProc) start(t testing.TB) {
	t.Helper()
	// The files the flags name are mounted read-only at the same paths, as the Deployment
	// mounts its Secrets.
	var files []string
	for i, a := range s.args {
		if strings.HasSuffix(a, "-file") && i+1 < len(s.args) {
			files = append(files, s.args[i+1])
		}
	}
	s.ctr = harness.StartContainer(t, s.image, harness.ContainerOptions{
		Name: "serve", Args: s.args, Env: s.env, Files: files, LogPath: s.logPath, Owner: s.owner,
	})
	eventually(t, 60*time.Second, "dynamo-cmp serve /readyz", func() (bool, string) {
		resp, err := http.Get(s.ops + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// kill ends serve at once (SIGKILL), as a node failure would.
func (s *serveProc) kill(t testing.TB) {
	if s.ctr == nil {
		return
	}
	s.ctr.Kill()
	s.ctr = nil
}

// stop is the kubelet's SIGTERM, then SIGKILL after 30 s.
func (s *serveProc) stop(t testing.TB) {
	if s.ctr == nil {
		return
	}
	s.ctr.Stop(30 * time.Second)
	s.ctr = nil
}

// webhook records serve's events (the "Portal").
type webhook struct {
	url    string
	mu     sync.Mutex
	events []map[string]any
}

func startWebhook(t testing.TB) *webhook {
	t.Helper()
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err == nil {
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *webhook) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = nil
}

// inOrder: the events about cluster (or its layer) contain one of each step's types, in the
// order of the steps.
func (w *webhook) inOrder(cluster string, steps ...[]string) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []string
	step := 0
	for _, ev := range w.events {
		typ, _ := ev["type"].(string)
		c, _ := ev["cluster"].(string)
		if c != "" && c != cluster {
			continue
		}
		seen = append(seen, typ)
		if step < len(steps) && slices.Contains(steps[step], typ) {
			step++
		}
	}
	return step == len(steps), fmt.Sprintf("events %v", seen)
}
