package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"
)

// Argo CD component names, as ARGOCD_BINARY_NAME selects them in the multi-call binary.
const (
	ArgoRepoServer    = "argocd-repo-server"
	ArgoCMPServer     = "argocd-cmp-server"
	ArgoAppController = "argocd-application-controller"
	ArgoAppSetCtrl    = "argocd-applicationset-controller"
	ArgoAPIServer     = "argocd-server"
	argoModulePath    = "github.com/argoproj/argo-cd/v3"
)

var appGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

var (
	argocdBinOnce sync.Once
	argocdBinDir  string
	argocdBinErr  error
)

// ArgoCDBinDir returns the directory holding Argo CD's multi-call binary `argocd` and the
// repo-server's git-verify-wrapper.sh and gpg-wrapper.sh: $DYNAMO_CMP_ARGOCDBIN if set, else
// the cache dir e2e/argocdbin/build.sh builds the version of GoModFile into (running it; a
// no-op when up to date, about 7 minutes cold).
func ArgoCDBinDir(t testing.TB) string {
	t.Helper()
	argocdBinOnce.Do(func() {
		if dir := os.Getenv("DYNAMO_CMP_ARGOCDBIN"); dir != "" {
			argocdBinDir = dir
			return
		}
		script := filepath.Join(RepoRoot(t), "e2e", "argocdbin", "build.sh")
		var args []string
		if f := GoModFile(t); f != "go.mod" {
			args = []string{"-modfile", f}
		}
		argocdBinDir, argocdBinErr = runBuildScript(t, "Argo CD binary", exec.Command(script, args...))
	})
	if argocdBinErr != nil {
		t.Fatalf("harness: building Argo CD: %v", argocdBinErr)
	}
	for _, b := range []string{"argocd", "git-verify-wrapper.sh", "gpg-wrapper.sh"} {
		if !fileExists(filepath.Join(argocdBinDir, b)) {
			t.Fatalf("harness: %s missing in %s", b, argocdBinDir)
		}
	}
	return argocdBinDir
}

// ArgoCDModuleDir returns the directory of the Argo CD module this test binary is built
// against (ArgoCDVersion; its manifests/ and hack/ are read from there).
func ArgoCDModuleDir(t testing.TB) string {
	t.Helper()
	dir, err := goModDownload(t, filepath.Join(RepoRoot(t), "e2e"), argoModulePath, "")
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return dir
}

// ArgoCDOptions configures StartArgoCD.
type ArgoCDOptions struct {
	// Namespace is Argo CD's namespace; default "argocd".
	Namespace string
	// PluginDir holds the plugin.yaml of the CMP sidecar (PluginDir for the product's), run
	// as a process.
	PluginDir string
	// PluginImage, when set, runs the CMP sidecar from this image instead, as Kubernetes runs
	// it (StartCMPSidecar: the image's plugin.yaml and binary, Argo CD's argocd-cmp-server
	// from this control plane's binary); PluginDir is then not used.
	PluginImage *Image
	// PluginEnv is the sidecar's environment after PATH, HOME, USER, LANG ("NAME=value"; a
	// later entry wins): DynamoEnv and PathWith(BuildDynamoCmp) for the product as a process,
	// DynamoEnv alone (no PATH, HOME) with PluginImage.
	PluginEnv []string
	// ConfigData is merged into the data of Argo CD's config maps (argocd-cm, argocd-rbac-cm
	// ...) of the module's manifests/base/config before any component starts.
	ConfigData map[string]map[string]string
	// ControllerArgs are extra flags of the application controller.
	ControllerArgs []string
	// RepoServerPath are directories put first on the repo-server's PATH (HelmBinDir: the
	// Argo CD image has helm in /usr/local/bin).
	RepoServerPath []string
	// APIServerOnly starts redis and argocd-server alone (startAPIServerOnly).
	APIServerOnly bool
}

// ArgoCD is a running Argo CD control plane: redis, argocd-repo-server with an
// argocd-cmp-server sidecar, the application and applicationset controllers and argocd-server
// (auth on, plain HTTP), all processes of Argo CD's multi-call binary on 127.0.0.1, running
// against Kube as their in-cluster API server (ARGOCD_FAKE_IN_CLUSTER).
type ArgoCD struct {
	Namespace string
	// Kube is the API server Argo CD runs in (its Applications, Secrets, ConfigMaps).
	Kube *KubeAPI
	// ServerAddr is argocd-server's host:port; URL is http://ServerAddr (the API).
	ServerAddr, URL string
	// RepoServerAddr is argocd-repo-server's host:port.
	RepoServerAddr string
	// AdminPassword is the initial admin password argocd-server generated.
	AdminPassword string
	// BinDir holds the argocd binary (the CLI when run without ARGOCD_BINARY_NAME).
	BinDir string
	// PluginSocketDir holds the CMP sidecar's socket.
	PluginSocketDir string

	redis      *Redis
	sidecar    *CMPServer // the CMP sidecar when it runs from PluginImage
	dir        string
	kubeconfig string
	cliConfig  string
	procs      map[string]*process
}

// Stop kills every component (SIGKILL by PID). Cleanup does it too.
func (a *ArgoCD) Stop() {
	for _, name := range []string{ArgoAPIServer, ArgoAppSetCtrl, ArgoAppController, ArgoRepoServer, ArgoCMPServer} {
		if p := a.procs[name]; p != nil {
			p.kill()
		}
	}
	if a.sidecar != nil {
		a.sidecar.Stop()
	}
	a.redis.Stop()
}

// LogPath returns the log file of a component (ArgoRepoServer ...).
func (a *ArgoCD) LogPath(component string) string {
	if p := a.procs[component]; p != nil {
		return p.logPath
	}
	if component == ArgoCMPServer && a.sidecar != nil {
		return a.sidecar.LogPath
	}
	return ""
}

// StartArgoCD applies Argo CD's config objects (manifests/base/config of the module, merged
// with opts.ConfigData) to kube in opts.Namespace and starts the control plane; it returns
// once every component is ready and the CLI is logged in as admin. About 15–30 s.
func StartArgoCD(t testing.TB, kube *KubeAPI, opts ArgoCDOptions) *ArgoCD {
	t.Helper()
	requireMain(t)
	start := time.Now()
	if opts.Namespace == "" {
		opts.Namespace = "argocd"
	}
	bin := ArgoCDBinDir(t)
	mod := ArgoCDModuleDir(t)
	a := &ArgoCD{Namespace: opts.Namespace, Kube: kube, BinDir: bin, dir: shortTempDir(t, "argocd-"), procs: map[string]*process{}}
	t.Cleanup(a.Stop)
	ctx := context.Background()

	if err := a.applyConfig(ctx, mod, opts.ConfigData); err != nil {
		t.Fatalf("harness: Argo CD config objects: %v", err)
	}
	// The components read their namespace from the kubeconfig's context, as Argo CD's own
	// local recipe (the Procfile) runs them.
	cfg, err := clientcmd.LoadFromFile(kube.Kubeconfig)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	for _, c := range cfg.Contexts {
		c.Namespace = opts.Namespace
	}
	a.kubeconfig = filepath.Join(a.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, a.kubeconfig); err != nil {
		t.Fatalf("harness: %v", err)
	}

	a.redis = StartRedis(t)

	// CMP sidecar and repo-server share the socket directory.
	a.PluginSocketDir = shortTempDir(t, "cmpsock-")
	if opts.APIServerOnly {
		a.startAPIServerOnly(t, kube, start)
		return a
	}
	if opts.PluginImage != nil {
		a.sidecar = startCMPSidecar(t, opts.PluginImage, filepath.Join(bin, "argocd"), a.PluginSocketDir, opts.PluginEnv)
	} else if opts.PluginDir != "" {
		pluginDir, err := filepath.Abs(opts.PluginDir)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		work := filepath.Join(a.dir, "cmp-work")
		mustMkdir(t, work)
		env := append(a.baseEnv(t, ArgoCMPServer, false), "ARGOCD_PLUGINSOCKFILEPATH="+a.PluginSocketDir, "ARGOCD_CMP_WORKDIR="+work)
		env = append(env, opts.PluginEnv...)
		p := a.start(t, ArgoCMPServer, env, "--config-dir-path", pluginDir, "--logformat", "text", "--loglevel", "info")
		if err := waitFor(p, 60*time.Second, 50*time.Millisecond, func() bool {
			entries, _ := os.ReadDir(a.PluginSocketDir)
			return len(entries) > 0
		}); err != nil {
			t.Fatalf("harness: %s: %v", ArgoCMPServer, err)
		}
	}

	repoPort, repoMetrics := freePort(t), freePort(t)
	a.RepoServerAddr = "127.0.0.1:" + strconv.Itoa(repoPort)
	env := a.baseEnv(t, ArgoRepoServer, true)
	if len(opts.RepoServerPath) > 0 {
		env[0] = "PATH=" + strings.Join(append(slices.Clone(opts.RepoServerPath), strings.TrimPrefix(env[0], "PATH=")), string(os.PathListSeparator))
	}
	env = append(env,
		"ARGOCD_PLUGINSOCKFILEPATH="+a.PluginSocketDir,
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_GNUPGHOME="+filepath.Join(a.dir, ArgoRepoServer, "gnupg"),
		"ARGOCD_ASK_PASS_SOCK="+filepath.Join(a.dir, ArgoRepoServer, "askpass.sock"))
	rp := a.start(t, ArgoRepoServer, env, "--address", "127.0.0.1", "--port", strconv.Itoa(repoPort),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(repoMetrics), "--redis", a.redis.Addr,
		"--loglevel", "info")
	if err := waitFor(rp, 60*time.Second, 50*time.Millisecond, func() bool { return tcpOpen(a.RepoServerAddr) }); err != nil {
		t.Fatalf("harness: %s: %v", ArgoRepoServer, err)
	}

	ctrlMetrics := freePort(t)
	args := append([]string{"--redis", a.redis.Addr, "--repo-server", a.RepoServerAddr,
		"--metrics-port", strconv.Itoa(ctrlMetrics), "--loglevel", "info"}, opts.ControllerArgs...)
	cp := a.start(t, ArgoAppController, a.baseEnv(t, ArgoAppController, false), args...)

	asMetrics, asProbe, asWebhook := freePort(t), freePort(t), freePort(t)
	ap := a.start(t, ArgoAppSetCtrl, a.baseEnv(t, ArgoAppSetCtrl, false),
		"--metrics-addr", "127.0.0.1:"+strconv.Itoa(asMetrics), "--probe-addr", "127.0.0.1:"+strconv.Itoa(asProbe),
		"--webhook-addr", "127.0.0.1:"+strconv.Itoa(asWebhook), "--argocd-repo-server", a.RepoServerAddr,
		"--loglevel", "info")

	sp := a.startAPIServer(t, "info")

	// The controllers' readiness: their /metrics (the applicationset controller's probe
	// address answers 404 on /healthz and /readyz; the application controller's metrics listen
	// on 0.0.0.0, without an address flag).
	for _, w := range []struct {
		p   *process
		url string
	}{
		{cp, "http://127.0.0.1:" + strconv.Itoa(ctrlMetrics) + "/metrics"},
		{ap, "http://127.0.0.1:" + strconv.Itoa(asMetrics) + "/metrics"},
		{sp, a.URL + "/healthz"},
	} {
		if err := waitFor(w.p, 90*time.Second, 100*time.Millisecond, func() bool { return httpOK(w.url) }); err != nil {
			t.Fatalf("harness: %s: %v", w.p.name, err)
		}
	}
	a.loginAsAdmin(t, kube, sp)
	t.Logf("harness: Argo CD %s control plane at %s (repo-server %s, redis %s) ready in %s",
		ArgoCDVersion(), a.URL, a.RepoServerAddr, a.redis.Addr, time.Since(start).Round(time.Millisecond))
	return a
}

// startAPIServer starts argocd-server on a free port of 127.0.0.1 (a.ServerAddr, a.URL),
// insecure, without Dex.
func (a *ArgoCD) startAPIServer(t testing.TB, logLevel string) *process {
	srvPort, srvMetrics := freePort(t), freePort(t)
	a.ServerAddr = "127.0.0.1:" + strconv.Itoa(srvPort)
	a.URL = "http://" + a.ServerAddr
	return a.start(t, ArgoAPIServer, a.baseEnv(t, ArgoAPIServer, false),
		"--insecure", "--address", "127.0.0.1", "--port", strconv.Itoa(srvPort),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(srvMetrics),
		"--redis", a.redis.Addr, "--repo-server", a.RepoServerAddr,
		"--dex-server", "http://127.0.0.1:1", "--loglevel", logLevel)
}

// loginAsAdmin waits for the admin password argocd-server sp writes, then logs the CLI in.
func (a *ArgoCD) loginAsAdmin(t testing.TB, kube *KubeAPI, sp *process) {
	t.Helper()
	if err := waitFor(sp, 60*time.Second, 100*time.Millisecond, func() bool {
		s, err := kube.Clientset.CoreV1().Secrets(a.Namespace).Get(context.Background(), "argocd-initial-admin-secret", metav1.GetOptions{})
		if err != nil {
			return false
		}
		a.AdminPassword = string(s.Data["password"])
		return a.AdminPassword != ""
	}); err != nil {
		t.Fatalf("harness: argocd-initial-admin-secret: %v", err)
	}
	a.cliConfig = filepath.Join(a.dir, "cli-config")
	if out, errOut, err := a.CLI(t, "login", a.ServerAddr, "--username", "admin", "--password", a.AdminPassword); err != nil {
		t.Fatalf("harness: argocd login: %v\n%s%s", err, out, errOut)
	}
}

func httpOK(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func mustMkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// baseEnv is a component's environment: its own TMPDIR and empty TLS/SSH data directories,
// ARGOCD_FAKE_IN_CLUSTER with the namespaced kubeconfig, and on the repo-server the git and
// gpg wrappers on PATH (the image copies them to /usr/local/bin).
func (a *ArgoCD) baseEnv(t testing.TB, component string, wrappers bool) []string {
	t.Helper()
	home := filepath.Join(a.dir, component)
	for _, d := range []string{"tmp", "tls", "ssh", "home"} {
		mustMkdir(t, filepath.Join(home, d))
	}
	path := os.Getenv("PATH")
	if wrappers {
		path = a.BinDir + string(os.PathListSeparator) + path
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + filepath.Join(home, "home"),
		"TMPDIR=" + filepath.Join(home, "tmp"),
		"ARGOCD_TLS_DATA_PATH=" + filepath.Join(home, "tls"),
		"ARGOCD_SSH_DATA_PATH=" + filepath.Join(home, "ssh"),
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"KUBECONFIG=" + a.kubeconfig,
		"ARGOCD_BINARY_NAME=" + component,
	}
	for _, name := range []string{"USER", "LANG", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

func (a *ArgoCD) start(t testing.TB, component string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(filepath.Join(a.BinDir, "argocd"), args...)
	cmd.Env = env
	cmd.Dir = filepath.Join(a.dir, component)
	mustMkdir(t, cmd.Dir)
	p := startProcess(t, component, cmd, filepath.Join(a.dir, component+".log"))
	a.procs[component] = p
	t.Cleanup(p.kill) // cmp-server ignores SIGTERM; every component is SIGKILLed by PID
	p.dumpLogOnFailure(t)
	return p
}

// applyConfig creates the namespace and the module's manifests/base/config objects, with data
// merged from extra.
func (a *ArgoCD) applyConfig(ctx context.Context, mod string, extra map[string]map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.Namespace}}
	if _, err := a.Kube.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	files, err := filepath.Glob(filepath.Join(mod, "manifests", "base", "config", "*.yaml"))
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		parsed, err := ParseManifests(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, o := range parsed {
			o.SetNamespace(a.Namespace)
			if add, ok := extra[o.GetName()]; ok {
				seen[o.GetName()] = true
				data, _, _ := unstructured.NestedStringMap(o.Object, "data")
				if data == nil {
					data = map[string]string{}
				}
				for k, v := range add {
					data[k] = v
				}
				if err := unstructured.SetNestedStringMap(o.Object, data, "data"); err != nil {
					return err
				}
			}
			objs = append(objs, o)
		}
	}
	for name := range extra {
		if !seen[name] {
			return fmt.Errorf("ConfigData names %q, which is not one of Argo CD's config objects", name)
		}
	}
	return ApplyErrors(a.Kube.Apply(ctx, objs, false))
}

// CLI runs the argocd CLI against this server (plain HTTP, its own config file) and returns
// stdout, stderr and the error of the run.
func (a *ArgoCD) CLI(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return a.CLIContext(context.Background(), args...)
}

// CLIContext is CLI with a context bounding the run.
func (a *ArgoCD) CLIContext(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	full := append([]string{"--server", a.ServerAddr, "--plaintext", "--config", a.cliConfig}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(a.BinDir, "argocd"), full...)
	home := filepath.Join(a.dir, "cli-home")
	_ = os.MkdirAll(home, 0o700)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home, "KUBECONFIG=" + a.kubeconfig}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// GenerateToken generates an API token for account (which needs `accounts.<name>: apiKey` in
// argocd-cm) through the API, as `argocd account generate-token` does.
func (a *ArgoCD) GenerateToken(t testing.TB, account string) string {
	t.Helper()
	out, errOut, err := a.CLI(t, "account", "generate-token", "--account", account)
	if err != nil {
		t.Fatalf("harness: argocd account generate-token --account %s: %v\n%s", account, err, errOut)
	}
	tok := strings.TrimSpace(out)
	if tok == "" {
		t.Fatalf("harness: argocd account generate-token --account %s printed nothing", account)
	}
	return tok
}

// RegisterCluster adds k as an Argo CD cluster named name (a cluster Secret with its URL,
// bearer token and CA, as `argocd cluster add` would store it).
func (a *ArgoCD) RegisterCluster(t testing.TB, name string, k *KubeAPI) {
	t.Helper()
	a.registerCluster(t, name, k, nil)
}

// RegisterBootstrapCluster registers a cluster as RegisterCluster does, labelled
// dynamo-cmp.io/bootstrap=true as docs/install.md step 5 labels the clusters the example
// ApplicationSet's cluster generator selects.
func (a *ArgoCD) RegisterBootstrapCluster(t testing.TB, name string, k *KubeAPI) {
	t.Helper()
	a.registerCluster(t, name, k, map[string]string{"dynamo-cmp.io/bootstrap": "true"})
}

// RegisterClusterAt registers k as RegisterCluster does, under another URL of it (server,
// e.g. https://ADDR of a TCPProxy to k): Argo CD keys clusters by URL, so clusters of a fleet
// can share one kube-apiserver (its certificate names 127.0.0.1, which holds on any port).
func (a *ArgoCD) RegisterClusterAt(t testing.TB, name string, k *KubeAPI, server string) {
	t.Helper()
	a.registerClusterAt(t, name, k, server, nil)
}

func (a *ArgoCD) registerCluster(t testing.TB, name string, k *KubeAPI, labels map[string]string) {
	t.Helper()
	a.registerClusterAt(t, name, k, k.Config.Host, labels)
}

func (a *ArgoCD) registerClusterAt(t testing.TB, name string, k *KubeAPI, server string, labels map[string]string) {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"bearerToken":     k.Config.BearerToken,
		"tlsClientConfig": map[string]any{"caData": k.Config.CAData, "insecure": false},
	})
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + name, Namespace: a.Namespace,
			Labels: map[string]string{"argocd.argoproj.io/secret-type": "cluster"}},
		StringData: map[string]string{"name": name, "server": server, "config": string(cfg)},
	}
	maps.Copy(s.Labels, labels)
	if _, err := a.Kube.Clientset.CoreV1().Secrets(a.Namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("harness: registering cluster %s: %v", name, err)
	}
}

// Application reads an Application of Argo CD's namespace from the API server (nil if absent).
func (a *ArgoCD) Application(t testing.TB, name string) *unstructured.Unstructured {
	t.Helper()
	gvr := appGVR
	obj, err := a.Kube.Dynamic.Resource(gvr).Namespace(a.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("harness: reading Application %s: %v", name, err)
	}
	return obj
}

// Applications lists the Applications of Argo CD's namespace.
func (a *ArgoCD) Applications(t testing.TB) []unstructured.Unstructured {
	t.Helper()
	list, err := a.Kube.Dynamic.Resource(appGVR).Namespace(a.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("harness: listing Applications: %v", err)
	}
	return list.Items
}

// AppStatus is what Argo CD reports about an Application.
type AppStatus struct {
	Sync, Health, Revision string
	OperationPhase         string
	Conditions             []string // "Type: message"
}

// Status extracts sync/health status and conditions from an Application object.
func Status(app *unstructured.Unstructured) AppStatus {
	if app == nil {
		return AppStatus{}
	}
	var s AppStatus
	s.Sync, _, _ = unstructured.NestedString(app.Object, "status", "sync", "status")
	s.Health, _, _ = unstructured.NestedString(app.Object, "status", "health", "status")
	s.Revision, _, _ = unstructured.NestedString(app.Object, "status", "sync", "revision")
	s.OperationPhase, _, _ = unstructured.NestedString(app.Object, "status", "operationState", "phase")
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		s.Conditions = append(s.Conditions, fmt.Sprintf("%v: %v", m["type"], m["message"]))
	}
	return s
}

// HardRefresh asks the application controller for a hard refresh of an Application, as
// `argocd app get --hard-refresh` does since Argo CD 3.6: the argocd.argoproj.io/refresh
// annotation with a fresh argocd.argoproj.io/refresh-timestamp, so that a refresh requested
// while the controller is refreshing is not lost (3.6's controller removes both only when the
// timestamp is still the one it saw; 3.5's ignores the timestamp).
func (a *ArgoCD) HardRefresh(t testing.TB, name string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		"argocd.argoproj.io/refresh":           "hard",
		"argocd.argoproj.io/refresh-timestamp": time.Now().Format(time.RFC3339Nano),
	}}})
	if _, err := a.Kube.Dynamic.Resource(appGVR).Namespace(a.Namespace).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("harness: hard refresh of %s: %v", name, err)
	}
}

// ApplyYAML applies a YAML stream to Argo CD's API server (server-side, strict).
func (a *ArgoCD) ApplyYAML(t testing.TB, docs ...string) {
	t.Helper()
	res, err := a.Kube.ApplyManifests(context.Background(), docs, false)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := ApplyErrors(res); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

// ToYAML renders an object for ApplyYAML.
func ToYAML(t testing.TB, obj any) string {
	t.Helper()
	data, err := sigsyaml.Marshal(obj)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return string(data)
}

// GitRepo is a local bare Git repository Argo CD reads through file://.
type GitRepo struct {
	// URL is file:///…/repo.git.
	URL string

	dir, bare, work string
}

// NewGitRepo creates a bare repository with one commit holding files (path → content).
func NewGitRepo(t testing.TB, files map[string]string) *GitRepo {
	t.Helper()
	dir := t.TempDir()
	g := &GitRepo{dir: dir, bare: filepath.Join(dir, "repo.git"), work: filepath.Join(dir, "work")}
	mustMkdir(t, g.work)
	g.git(t, dir, "init", "-q", "--bare", "-b", "main", g.bare)
	g.git(t, g.work, "init", "-q", "-b", "main")
	g.Commit(t, files, "e2e")
	g.URL = "file://" + g.bare
	return g
}

// Commit writes files (path → content) over the work tree, commits them with message msg
// and pushes the commit to the bare repository (main), as a developer's push does.
func (g *GitRepo) Commit(t testing.TB, files map[string]string, msg string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(g.work, p)
		mustMkdir(t, filepath.Dir(full))
		writeFile(t, full, content)
	}
	g.git(t, g.work, "add", "-A")
	g.git(t, g.work, "commit", "-q", "-m", msg)
	g.git(t, g.work, "push", "-q", g.bare, "main")
}

func (g *GitRepo) git(t testing.TB, d string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = d
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
