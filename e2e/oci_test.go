package e2e

// Scenario "Bootstrap" (issue 11) from an OCI source (issue 14): no Git anywhere. The
// Applications' source is the placeholder artifact `dynamo-cmp source push` put into a real
// CNCF distribution registry on loopback (htpasswd auth on); Argo CD (each supported
// version) reads it with the repository Secret docs/install.md shows, and the
// cluster-generator ApplicationSet of manifests/examples/applicationset-oci-source.yaml
// renders the cluster through the sidecar.
//
// Lines that differ from what users apply: the registry is 127.0.0.1:PORT instead of ECR
// (repoURL, the AppProject's sourceRepos, the Secret's url), the Secret's username/password
// are the test registry's and insecureOCIForceHttp is uncommented (plain HTTP on loopback),
// and only the first ApplicationSet (cluster-bootstrap-oci) is applied: the add-on
// Applications the second one renders would sync charts from the Internet.
//
// Git is absent: a `git` first on the PATH of every Argo CD component records any call and
// fails, and no Git repository exists.

import (
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const exampleOCIRepo = "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/dynamo-cmp-source"

func TestOCISourceBootstrap(t *testing.T) {
	bin := harness.BuildDynamoCmp(t)
	harness.ArgoCDBinDir(t)
	reg := harness.StartRegistry(t, "argocd", "e2e-registry-password")
	gitCalls := withoutGit(t) // after the builds: go build may run git

	l := &loop{clusters: map[string]*harness.KubeAPI{}, dir: t.TempDir()}
	l.db = harness.StartDynamoDB(t)
	l.cliEnv = l.db.Env(loopTable)
	l.cli(t, "table", "create")
	for _, layer := range []string{"global", "env/dev", "cluster/" + cluster} {
		l.cli(t, "config", "publish", "-f", harness.RepoRoot(t)+"/examples/layers/"+layer+".yaml", "--layer", layer, "-m", "e2e", "--actor", "e2e")
	}

	// The operator pushes the placeholder with Docker credentials.
	repoURL := "oci://" + reg.Addr + "/platform/dynamo-cmp-source"
	dockerDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Addr, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := harness.RunDynamoCmp(t, []string{"DOCKER_CONFIG=" + dockerDir}, "source", "push", repoURL+":v1", "--plain-http")
	if err != nil {
		t.Fatalf("source push: %v\n%s%s", err, out, errOut)
	}
	m := regexp.MustCompile(`@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("source push printed %q: no digest", out)
	}
	digest := m[1]

	l.mgmt = harness.StartKubeAPIServer(t)
	l.clusters[cluster] = l.mgmt
	l.argo = harness.StartArgoCD(t, l.mgmt, harness.ArgoCDOptions{
		PluginDir: harness.PluginDir(t),
		PluginEnv: append(harness.DynamoEnv(l.db.Endpoint, loopTable), harness.PathWith(bin)),
	})
	l.argo.RegisterBootstrapCluster(t, cluster, l.mgmt) // docs/install.md step 5

	secret := ociSecretFromDocs(t)
	secret = replaceLine(t, secret, "url: "+exampleOCIRepo, "url: "+repoURL)
	secret = replaceLine(t, secret, "username: AWS", "username: "+reg.User)
	secret = replaceLine(t, secret, "password: <aws ecr get-login-password>", "password: "+reg.Password)
	secret = replaceLine(t, secret, `# insecureOCIForceHttp: "true"   # plain HTTP, for a test registry only`, `insecureOCIForceHttp: "true"`)
	project := replaceLine(t, readRepoFile(t, "manifests/examples/appproject-platform.yaml"), "- "+exampleOCIRepo, "- "+repoURL)
	appSet := strings.Split(readRepoFile(t, "manifests/examples/applicationset-oci-source.yaml"), "\n---\n")[0]
	appSet = replaceLine(t, appSet, "repoURL: "+exampleOCIRepo, "repoURL: "+repoURL)
	l.argo.ApplyYAML(t, secret, project, appSet)

	eventually(t, patience, appName(cluster)+" settled", func() (bool, string) { return l.settled(t, cluster) })

	app := l.argo.Application(t, appName(cluster))
	if rev, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision"); rev != digest {
		t.Errorf("Application synced revision %q, want the digest pushed %s (the tag resolved by the repo-server)", rev, digest)
	}
	if src, _, _ := unstructured.NestedString(app.Object, "spec", "source", "repoURL"); src != repoURL {
		t.Errorf("Application source %q, want %s", src, repoURL)
	}
	if n := len(l.argo.Applications(t)); n != 1 {
		t.Errorf("%d Applications, want 1", n)
	}
	if calls := gitCalls(); calls != "" {
		t.Errorf("Argo CD ran git although no source is Git:\n%s", calls)
	}
	// The repo-server read the artifact from the registry with the Secret's credentials.
	regLog, _ := os.ReadFile(reg.LogPath())
	if !regexp.MustCompile(`"GET /v2/platform/dynamo-cmp-source/blobs/sha256:[0-9a-f]{64} HTTP/1.1" 200`).Match(regLog) {
		t.Errorf("the registry served no blob of the artifact; its log:\n%s", regLog)
	}
}

// ociSecretFromDocs is the repository Secret of docs/install.md, "No Git: an OCI source".
func ociSecretFromDocs(t testing.TB) string {
	t.Helper()
	doc := readRepoFile(t, "docs/install.md")
	i := strings.Index(doc, "## No Git: an OCI source")
	if i < 0 {
		t.Fatal(`docs/install.md has no section "No Git: an OCI source"`)
	}
	doc = doc[i:]
	j := strings.Index(doc, "```yaml\napiVersion: v1\nkind: Secret\n")
	if j < 0 {
		t.Fatal("docs/install.md no longer shows the oci repository Secret")
	}
	block := doc[j+len("```yaml\n"):]
	return block[:strings.Index(block, "```")]
}

// withoutGit puts a git first on this process's PATH (the PATH the harness gives Argo CD's
// components) that records its arguments and fails; the returned func reports the calls.
func withoutGit(t *testing.T) func() string {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"git $*\" >> " + calls + "\necho 'git is absent from this test' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if got, err := exec.LookPath("git"); err != nil || got != filepath.Join(dir, "git") {
		t.Fatalf("git on PATH is %q (%v), want the recording stand-in", got, err)
	}
	return func() string {
		data, _ := os.ReadFile(calls)
		return string(data)
	}
}
