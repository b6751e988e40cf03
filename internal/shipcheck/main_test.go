package shipcheck_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

func TestMain(m *testing.M) {
	// The image test re-executes this binary as the sandbox that runs dynamo-cmp on a
	// read-only root as uid 999 (sandbox_linux_test.go).
	if spec := os.Getenv(sandboxEnv); spec != "" {
		os.Exit(runSandbox(spec))
	}
	dynamolocal.Main(m)
}

var (
	rootOnce sync.Once
	rootDir  string
)

// repoRoot is the repository's root directory (the one holding go.mod and Dockerfile).
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
					rootDir = dir
					return
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	if rootDir == "" {
		t.Fatal("cannot find the repository root (a directory with go.mod and Dockerfile above the working directory)")
	}
	return rootDir
}

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// result is what a user sees of one command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, truncate(r.stdout, 2000), truncate(r.stderr, 4000))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// run runs a dynamo-cmp command in process, with env as its whole environment.
func run(t testing.TB, env cli.Env, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Run(ctx, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args, env)
	return result{code, out.String(), errOut.String()}
}

// storeEnv is the environment that points the commands at a table through endpoint, with
// DynamoDB Local's static dummy credentials and nothing from this machine (no shared config,
// no instance metadata).
func storeEnv(t testing.TB, cfg store.Config, endpoint string) cli.Env {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return cli.Env{
		"AWS_ENDPOINT_URL_DYNAMODB":   endpoint,
		"AWS_REGION":                  cfg.Region,
		"AWS_ACCESS_KEY_ID":           cfg.StaticCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       cfg.StaticCredentials.SecretAccessKey,
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"DYNAMO_CMP_TABLE":            cfg.Table,
	}
}

// with returns a copy of env with the given KEY, value pairs set (an empty value unsets).
func with(env cli.Env, kv ...string) cli.Env {
	out := cli.Env{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

// argocd adds what argocd-cmp-server gives generate for an Application of project platform
// with the given plugin parameters (JSON, as ARGOCD_APP_PARAMETERS carries them).
func argocd(env cli.Env, params string) cli.Env {
	return with(env,
		"ARGOCD_APP_NAME", "dev-k3s-bootstrap", "ARGOCD_APP_NAMESPACE", "argocd", "ARGOCD_APP_PROJECT_NAME", "platform",
		"ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567", "ARGOCD_APP_SOURCE_REPO_URL", "https://git.example.com/platform/bootstrap.git",
		"ARGOCD_APP_SOURCE_PATH", "dynamo-cmp", "ARGOCD_APP_SOURCE_TARGET_REVISION", "HEAD", "KUBE_VERSION", "1.34.4",
		"ARGOCD_APP_PARAMETERS", params)
}

// exampleLayers are the layers of examples/layers, in publish order.
var exampleLayers = []string{"global", "env/dev", "cluster/dev-k3s"}

// publishExamples publishes examples/layers as version 1 of each layer, directly (no proxy).
func publishExamples(t testing.TB, env cli.Env) {
	t.Helper()
	for _, l := range exampleLayers {
		r := run(t, env, "config", "publish", "-f", filepath.Join(repoRoot(t), "examples", "layers", l+".yaml"), "--layer", l, "-m", "shipcheck", "--actor", "shipcheck")
		if r.code != 0 {
			t.Fatalf("publish %s: %s", l, r)
		}
	}
}
