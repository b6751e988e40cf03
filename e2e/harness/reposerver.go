package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/reposerver/apiclient"
	reposervercache "github.com/argoproj/argo-cd/v3/reposerver/cache"
	"github.com/argoproj/argo-cd/v3/reposerver/metrics"
	"github.com/argoproj/argo-cd/v3/reposerver/repository"
	cacheutil "github.com/argoproj/argo-cd/v3/util/cache"
	"github.com/argoproj/argo-cd/v3/util/git"
	utilio "github.com/argoproj/argo-cd/v3/util/io"
	"k8s.io/apimachinery/pkg/api/resource"
)

// ProductPluginName is how an Application names the product's plugin: metadata.name of
// plugin/plugin.yaml, which sets no spec.version (Argo CD 3.x would append "-<version>").
const ProductPluginName = "dynamo-cmp-v1"

// Param is one plugin parameter of an Application's spec.source.plugin.parameters, as an
// ApplicationSet template writes it. Exactly one of String, Array or Map is meant to be set;
// use StringParam, ArrayParam and MapParam.
type Param struct {
	Name   string
	String *string
	Array  []string          // non-nil (even empty) means "array: [...]"
	Map    map[string]string // non-nil (even empty) means "map: {...}"
}

// StringParam is {name: NAME, string: VALUE}.
func StringParam(name, value string) Param { return Param{Name: name, String: &value} }

// ArrayParam is {name: NAME, array: [VALUES...]}.
func ArrayParam(name string, values ...string) Param {
	if values == nil {
		values = []string{}
	}
	return Param{Name: name, Array: values}
}

// MapParam is {name: NAME, map: {...}}.
func MapParam(name string, m map[string]string) Param {
	if m == nil {
		m = map[string]string{}
	}
	return Param{Name: name, Map: m}
}

// MarshalJSON writes the parameter as it appears in an Application spec.
func (p Param) MarshalJSON() ([]byte, error) {
	obj := map[string]any{"name": p.Name}
	if p.String != nil {
		obj["string"] = *p.String
	}
	if p.Array != nil {
		obj["array"] = p.Array
	}
	if p.Map != nil {
		obj["map"] = p.Map
	}
	return json.Marshal(obj)
}

// GenerateRequest is one manifest generation as the repo-server runs it for an Application.
// Zero fields take the defaults noted.
type GenerateRequest struct {
	AppName     string            // metadata.name of the Application (required)
	Project     string            // spec.project; default "default"
	Namespace   string            // spec.destination.namespace (ARGOCD_APP_NAMESPACE); default ""
	PluginName  string            // spec.source.plugin.name; default ProductPluginName
	Params      []Param           // spec.source.plugin.parameters
	Env         map[string]string // spec.source.plugin.env (reaches the plugin as ARGOCD_ENV_<name>)
	RepoURL     string            // spec.source.repoURL; default DefaultRepoURL
	Path        string            // spec.source.path; default "."
	Revision    string            // resolved commit SHA; default DefaultRevision
	KubeVersion string            // destination cluster version; default "1.37.0", the e2e kube-apiserver's
	APIVersions []string          // destination API versions (KUBE_API_VERSIONS); default DefaultAPIVersions
	// NoTracking leaves the manifests as the plugin printed them. By default Argo CD's
	// default tracking is applied (annotation argocd.argoproj.io/tracking-id, label key
	// app.kubernetes.io/instance), as the application controller asks the repo-server to.
	NoTracking bool
	Timeout    time.Duration // default 60 s, the repo-server's default deadline
}

// Defaults of GenerateRequest.
var (
	DefaultRepoURL     = "https://git.example.com/platform/cluster-bootstrap.git"
	DefaultRevision    = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"
	DefaultAPIVersions = []string{
		"v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "policy/v1",
		"rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1",
		"argoproj.io/v1alpha1", "projectcalico.org/v3",
	}
)

func (r GenerateRequest) withDefaults() GenerateRequest {
	if r.Project == "" {
		r.Project = "default"
	}
	if r.PluginName == "" {
		r.PluginName = ProductPluginName
	}
	if r.RepoURL == "" {
		r.RepoURL = DefaultRepoURL
	}
	if r.Path == "" {
		r.Path = "."
	}
	if r.Revision == "" {
		r.Revision = DefaultRevision
	}
	if r.KubeVersion == "" {
		r.KubeVersion = "1.37.0"
	}
	if r.APIVersions == nil {
		r.APIVersions = DefaultAPIVersions
	}
	if r.Timeout == 0 {
		r.Timeout = 60 * time.Second
	}
	return r
}

// applicationSource builds spec.source the way an Application created from an
// ApplicationSet template carries it: through its JSON form.
func (r GenerateRequest) applicationSource() (*v1alpha1.ApplicationSource, error) {
	type envEntry struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	names := make([]string, 0, len(r.Env))
	for k := range r.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	plugin := map[string]any{"name": r.PluginName}
	if len(r.Params) > 0 {
		plugin["parameters"] = r.Params
	}
	if len(names) > 0 {
		env := make([]envEntry, len(names))
		for i, n := range names {
			env[i] = envEntry{Name: n, Value: r.Env[n]}
		}
		plugin["env"] = env
	}
	raw, err := json.Marshal(map[string]any{
		"repoURL":        r.RepoURL,
		"path":           r.Path,
		"targetRevision": "HEAD",
		"plugin":         plugin,
	})
	if err != nil {
		return nil, err
	}
	var src v1alpha1.ApplicationSource
	if err := json.Unmarshal(raw, &src); err != nil {
		return nil, fmt.Errorf("spec.source %s: %w", raw, err)
	}
	return &src, nil
}

// sockEnvMu serialises uses of ARGOCD_PLUGINSOCKFILEPATH: Argo CD's client side reads the
// plugin socket directory from this process-wide variable.
var sockEnvMu sync.Mutex

func withSocketDir(socketDir string, fn func()) {
	sockEnvMu.Lock()
	defer sockEnvMu.Unlock()
	old, had := os.LookupEnv("ARGOCD_PLUGINSOCKFILEPATH")
	_ = os.Setenv("ARGOCD_PLUGINSOCKFILEPATH", socketDir)
	defer func() {
		if had {
			_ = os.Setenv("ARGOCD_PLUGINSOCKFILEPATH", old)
		} else {
			_ = os.Unsetenv("ARGOCD_PLUGINSOCKFILEPATH")
		}
	}()
	fn()
}

// GenerateManifests asks the cmp-server behind socketDir for the manifests of an Application
// named appName in project whose source is the product plugin with params and plugin env —
// through Argo CD's own repo-server code (repository.GenerateManifests) with a directory
// holding only a README.md as the Git checkout. It returns the manifests as the repo-server returns them
// (one JSON object per entry, tracking annotation added) or Argo CD's error unchanged, e.g.
// `CMP processing failed for application "a": ... failed exit status 3: <stderr>`.
func GenerateManifests(t testing.TB, socketDir, appName, project string, params []Param, env map[string]string) ([]string, error) {
	t.Helper()
	return Generate(t, socketDir, GenerateRequest{AppName: appName, Project: project, Params: params, Env: env})
}

// Generate is GenerateManifests with every field of the request under the caller's control.
func Generate(t testing.TB, socketDir string, req GenerateRequest) ([]string, error) {
	t.Helper()
	req = req.withDefaults()
	src, err := req.applicationSource()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	// The Git checkout of the Application's source. Argo CD refuses to stream an empty
	// directory to a plugin ("no files to send"), so it holds one placeholder file, as a
	// repository that only names the plugin would.
	repoRoot := t.TempDir()
	readme := filepath.Join(repoRoot, src.Path, "README.md")
	if err := os.MkdirAll(filepath.Dir(readme), 0o755); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.WriteFile(readme, []byte("Rendered by a Config Management Plugin.\n"), 0o644); err != nil {
		t.Fatalf("harness: %v", err)
	}
	q := &apiclient.ManifestRequest{
		Repo:              &v1alpha1.Repository{Repo: req.RepoURL},
		Revision:          src.TargetRevision,
		ApplicationSource: src,
		AppName:           req.AppName,
		Namespace:         req.Namespace,
		ProjectName:       req.Project,
		KubeVersion:       req.KubeVersion,
		ApiVersions:       req.APIVersions,
	}
	if !req.NoTracking {
		q.AppLabelKey = "app.kubernetes.io/instance"
		q.TrackingMethod = string(v1alpha1.TrackingMethodAnnotation)
	}
	ctx, cancel := context.WithTimeout(context.Background(), req.Timeout)
	defer cancel()
	var res *apiclient.ManifestResponse
	withSocketDir(socketDir, func() {
		res, err = repository.GenerateManifests(ctx, filepath.Join(repoRoot, src.Path), repoRoot, req.Revision, q, false,
			&git.NoopCredsStore{}, resource.MustParse("10M"), utilio.NewRandomizedTempPaths(t.TempDir()))
	})
	if err != nil {
		return nil, err
	}
	return res.Manifests, nil
}

var (
	gitWrapperOnce sync.Once
	gitWrapperErr  error
)

// ensureGitVerifyWrapper puts Argo CD's hack/git-verify-wrapper.sh (which the repo-server
// runs after every checkout) on this process's PATH, made executable (the module cache
// strips mode bits).
func ensureGitVerifyWrapper(t testing.TB) {
	t.Helper()
	gitWrapperOnce.Do(func() {
		argoDir, err := goModDownload(t, filepath.Join(RepoRoot(t), "e2e"), "github.com/argoproj/argo-cd/v3", "")
		if err != nil {
			gitWrapperErr = err
			return
		}
		script, err := os.ReadFile(filepath.Join(argoDir, "hack", "git-verify-wrapper.sh"))
		if err != nil {
			gitWrapperErr = err
			return
		}
		dir, err := os.MkdirTemp("", "argocd-hack-")
		if err != nil {
			gitWrapperErr = err
			return
		}
		onProcessExit(func() { _ = os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "git-verify-wrapper.sh"), script, 0o755); err != nil {
			gitWrapperErr = err
			return
		}
		gitWrapperErr = os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
	if gitWrapperErr != nil {
		t.Fatalf("harness: installing git-verify-wrapper.sh: %v", gitWrapperErr)
	}
}

// makeGitRepo creates a local Git repository with one empty commit and returns its file:// URL.
func makeGitRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", dir},
		{"-C", dir, "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", "commit", "-q", "--allow-empty", "-m", "empty"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("harness: git %v: %v\n%s", args, err, out)
		}
	}
	return "file://" + dir
}

// ParameterAnnouncements returns the parameters the plugin behind socketDir announces for an
// Application with the given source (what the dynamic command prints first, then the static
// ones of plugin.yaml — Argo CD's order, in which a later entry of the same name wins), through Argo CD's repo-server service (repository.NewService(...)
// .GetAppDetails) over a real local Git repository, as the Argo CD UI gets them. Only
// AppName, PluginName, Params, Env and Path of req are used. Argo CD's error is returned
// unchanged.
func ParameterAnnouncements(t testing.TB, socketDir string, req GenerateRequest) ([]*apiclient.ParameterAnnouncement, error) {
	t.Helper()
	ensureGitVerifyWrapper(t)
	req.RepoURL = makeGitRepo(t)
	req = req.withDefaults()
	src, err := req.applicationSource()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	root := filepath.Join(t.TempDir(), "reposerver")
	// The repo-server takes every permission away from its checkouts between operations;
	// give them back so that the temporary directory can be removed.
	t.Cleanup(func() {
		_ = os.Chmod(root, 0o700)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				_ = os.Chmod(p, 0o700) // before WalkDir reads it
			}
			return nil
		})
	})
	cache := reposervercache.NewCache(cacheutil.NewCache(cacheutil.NewInMemoryCache(time.Minute)), time.Minute, time.Minute, 10*time.Second)
	svc := repository.NewService(metrics.NewMetricsServer(), cache, repository.RepoServerInitConstants{ParallelismLimit: 1}, &git.NoopCredsStore{}, root)
	if err := svc.Init(); err != nil {
		t.Fatalf("harness: repo-server service: %v", err)
	}
	q := &apiclient.RepoServerAppDetailsQuery{
		Repo:    &v1alpha1.Repository{Repo: req.RepoURL},
		Source:  src,
		AppName: req.AppName,
		NoCache: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), req.Timeout)
	defer cancel()
	var res *apiclient.RepoAppDetailsResponse
	withSocketDir(socketDir, func() {
		res, err = svc.GetAppDetails(ctx, q)
	})
	if err != nil {
		return nil, err
	}
	if res.Plugin == nil {
		return nil, fmt.Errorf("GetAppDetails returned source type %q and no plugin details", res.Type)
	}
	return res.Plugin.ParametersAnnouncement, nil
}
