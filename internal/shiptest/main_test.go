package shiptest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/clitest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
)

func TestMain(m *testing.M) {
	// The image test re-executes this binary as the sandbox that runs dynamo-cmp on a
	// read-only root as uid 999 (sandbox_linux_test.go).
	if spec := os.Getenv(sandboxEnv); spec != "" {
		os.Exit(runSandbox(spec))
	}
	dynamolocal.Main(m)
}

// repoRoot is the repository's root directory.
var repoRoot = testkit.RepoRoot

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// result is what a user sees of one command.
type result = clitest.Result

// run runs a dynamo-cmp command in process, with env as its whole environment.
func run(t testing.TB, env cli.Env, args ...string) result {
	t.Helper()
	return clitest.Run(t, env, args...)
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
		if r.Code != 0 {
			t.Fatalf("publish %s: %s", l, r)
		}
	}
}
