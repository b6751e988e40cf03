package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/clitest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// testCallerArn is the AWS principal the fake STS of tableEnv names.
const testCallerArn = "arn:aws:sts::123456789012:assumed-role/platform-admin/alice"

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// result is what a user sees of one command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs one command in process (clitest.Run), with fields short enough for the many tests.
func run(t *testing.T, env cli.Env, args ...string) result {
	t.Helper()
	r := clitest.Run(t, env, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

// tableEnv returns the sidecar-like environment of a fresh table on DynamoDB Local.
func tableEnv(t *testing.T) (cli.Env, store.Config) {
	t.Helper()
	cfg := dynamolocal.NewTable(t, dynamolocal.Start(t))
	return cli.Env{
		"AWS_ENDPOINT_URL_DYNAMODB": cfg.Endpoint,
		"AWS_ENDPOINT_URL_STS":      testkit.NewFakeSTS(t, testCallerArn).URL,
		"AWS_REGION":                cfg.Region,
		"AWS_ACCESS_KEY_ID":         cfg.StaticCredentials.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     cfg.StaticCredentials.SecretAccessKey,
		"DYNAMO_CMP_TABLE":          cfg.Table,
	}, cfg
}

// with returns env plus extra variables.
func with(env cli.Env, kv ...string) cli.Env {
	out := cli.Env{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// publishExamples publishes examples/layers as version 1 of each layer.
func publishExamples(t *testing.T, env cli.Env) {
	t.Helper()
	for _, l := range []string{"global", "env/dev", "cluster/dev-k3s"} {
		r := run(t, env, "config", "publish", "-f", "../../examples/layers/"+l+".yaml", "--layer", l, "-m", "test", "--actor", "tester")
		if r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s%s", l, r.code, r.stdout, r.stderr)
		}
	}
}

// examplesTable returns the environment of a fresh table holding examples/layers, published.
func examplesTable(t *testing.T) (cli.Env, store.Config) {
	t.Helper()
	env, cfg := tableEnv(t)
	run(t, env, "table", "create")
	publishExamples(t, env)
	return env, cfg
}

func argocdEnv(env cli.Env, params string) cli.Env {
	return with(env, "ARGOCD_APP_PARAMETERS", params, "ARGOCD_APP_PROJECT_NAME", "platform", "ARGOCD_APP_NAME", "dev-k3s-bootstrap")
}

// assertFailedCleanly checks the contract of a failed generate: non-zero exit, nothing on
// stdout, one paragraph with a trace id on stderr, no AWS request ids or credentials.
func assertFailedCleanly(t *testing.T, r result, code int, wantInStderr ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout must be empty on failure, got %d bytes", len(r.stdout))
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 {
		t.Errorf("stderr should be one paragraph, got %d lines:\n%s", lines, r.stderr)
	}
	if !strings.Contains(r.stderr, "[trace ") {
		t.Errorf("stderr has no trace id: %s", r.stderr)
	}
	for _, bad := range []string{"RequestID", "request id", "secret-test-key", "AKIA"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr leaks %q: %s", bad, r.stderr)
		}
	}
	for _, w := range wantInStderr {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

func TestRenderCommand(t *testing.T) {
	r := run(t, cli.Env{}, "render", "-f", "../../examples/layers", "--cluster", "dev-k3s")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "apiVersion: v1\nkind: Namespace\n") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := strings.Count(r.stdout, "\n---\n") + 1; got != 22 {
		t.Errorf("%d objects, want 22", got)
	}

	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	writeFile(t, bad, "layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces: [{namespace: a, resourceQuota: {cpu: four}}, {namespace: B}]\n")
	r = run(t, cli.Env{}, "render", "-f", bad, "--cluster", "c")
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("invalid input: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"the configuration has 2 problems:",
		`cluster/c: namespaces[B].namespace: "B" is not a valid name`,
		`cluster/c: namespaces[a].resourceQuota.hard.cpu: "four" is not a quantity`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = run(t, cli.Env{}, "render", "-f", "../../examples/layers", "--cluster", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "no layer cluster/nope in the given files") {
		t.Errorf("unknown cluster: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, cli.Env{}, "render", "--cluster", "x")
	if r.code != 2 || !strings.Contains(r.stderr, `required flag(s) "file" not set`) {
		t.Errorf("usage error: exit %d: %s", r.code, r.stderr)
	}
}

func TestGenerateRendersWhatWasPublished(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)

	r := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("generate: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 22 {
		t.Fatalf("%d objects, want 22", len(lines))
	}
	for _, line := range lines {
		var obj struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("not a JSON object: %s", line)
		}
		if v, ok := obj.Metadata.Annotations["dynamo-cmp.io/config-version"]; ok {
			t.Fatalf("config-version %q on an object: a stamp that changes with every publish changes every object", v)
		}
	}
	// generate and the operators' render agree byte for byte.
	rr := run(t, env, "config", "render", "--cluster", "dev-k3s", "-o", "json")
	if rr.code != 0 || rr.stdout != r.stdout {
		t.Errorf("config render differs from generate (exit %d)", rr.code)
	}
	// Pinned, PARAM_ fallback, and components.
	pinned := run(t, with(env, "PARAM_CLUSTER", "dev-k3s", "PARAM_CONFIGVERSION", "g1.e1.c1", "PARAM_COMPONENTS_0", "calico", "ARGOCD_APP_PROJECT_NAME", "platform"), "generate")
	if pinned.code != 0 || strings.Count(pinned.stdout, "\n") != 4 || strings.Contains(pinned.stdout, `"kind":"Namespace"`) {
		t.Errorf("pinned calico component: exit %d, %d objects\n%s", pinned.code, strings.Count(pinned.stdout, "\n"), pinned.stderr)
	}
	// Step log on request.
	logged := run(t, with(argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "DYNAMO_CMP_LOG_LEVEL", "info"), "generate")
	for _, step := range []string{"-dynamodb-e10", "-merge-e20", "-validate-e25", "-render-e30", "-emit-e40"} {
		if !strings.Contains(logged.stderr, step) {
			t.Errorf("log lacks step %s:\n%s", step, logged.stderr)
		}
	}
	if logged.stdout != r.stdout {
		t.Error("logging changed stdout")
	}
}

func TestGenerateFailures(t *testing.T) {
	env, cfg := examplesTable(t)
	params := `[{"name":"cluster","string":"dev-k3s"}]`

	t.Run("unknown cluster", func(t *testing.T) {
		assertFailedCleanly(t, run(t, argocdEnv(env, `[{"name":"cluster","string":"prod-eks"}]`), "generate"), 1,
			`could not render cluster "prod-eks"`, "not registered", "dynamo-cmp config publish --layer cluster/prod-eks")
	})
	t.Run("project not allowed", func(t *testing.T) {
		assertFailedCleanly(t, run(t, with(argocdEnv(env, params), "ARGOCD_APP_PROJECT_NAME", "team-a"), "generate"), 1,
			`Argo CD project "team-a" may not render this cluster.`)
	})
	t.Run("missing cluster parameter", func(t *testing.T) {
		assertFailedCleanly(t, run(t, with(env, "ARGOCD_APP_PARAMETERS", `[]`), "generate"), 1, `parameter "cluster" is required`)
	})
	t.Run("hostile parameter", func(t *testing.T) {
		assertFailedCleanly(t, run(t, argocdEnv(env, `[{"name":"cluster","string":"dev; rm -rf /"}]`), "generate"), 1, `"dev; rm -rf /" is not a valid name`)
	})
	t.Run("unknown pinned version", func(t *testing.T) {
		assertFailedCleanly(t, run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"g1.e9.c1"}]`), "generate"), 1,
			"configVersion g1.e9.c1", "env/dev has no version 9")
	})
	t.Run("zero objects", func(t *testing.T) {
		assertFailedCleanly(t, run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"},{"name":"components","array":["manifests"]}]`), "generate"), 1,
			"renders no objects", "would make Argo CD prune")
	})
	t.Run("missing table", func(t *testing.T) {
		assertFailedCleanly(t, run(t, with(argocdEnv(env, params), "DYNAMO_CMP_TABLE", "nope"), "generate"), 3,
			"table nope does not exist", "dynamo-cmp table create")
	})
	t.Run("DynamoDB unreachable", func(t *testing.T) {
		assertFailedCleanly(t, run(t, with(argocdEnv(env, params), "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"), "generate"), 3,
			"cannot reach DynamoDB at http://127.0.0.1:9: connection refused")
	})
	t.Run("deadline", func(t *testing.T) {
		// A server that accepts connections and never answers.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		assertFailedCleanly(t, run(t, with(argocdEnv(env, params), "AWS_ENDPOINT_URL_DYNAMODB", "http://"+ln.Addr().String(), "DYNAMO_CMP_TIMEOUT", "2s"), "generate"), 3,
			"reading DynamoDB did not finish within the 2s deadline")
	})
	t.Run("invalid published configuration", func(t *testing.T) {
		// Publish around the validation (as a console edit of a version item would) to get a
		// broken configuration into the table.
		st, err := store.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		bad, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "broken", "resourceQuota": map[string]any{"cpu": "four"}})
		if err != nil {
			t.Fatal(err)
		}
		cur, err := st.ReadVersion(context.Background(), config.ClusterLayer("dev-k3s"), 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Publish(context.Background(), store.PublishInput{Ref: config.ClusterLayer("dev-k3s"), Entries: append(cur.Entries, bad), Base: 1}); err != nil {
			t.Fatal(err)
		}
		assertFailedCleanly(t, run(t, argocdEnv(env, params), "generate"), 1,
			"configVersion g1.e1.c2", `the configuration is invalid (1 problem): cluster/dev-k3s: namespaces[broken].resourceQuota.hard.cpu: "four" is not a quantity`)
		// The previous version is still renderable when pinned.
		if r := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"g1.e1.c1"}]`), "generate"); r.code != 0 {
			t.Errorf("pinned old version: exit %d %s", r.code, r.stderr)
		}
	})
}

func TestPublishWorkflow(t *testing.T) {
	env, _ := examplesTable(t)
	dir := t.TempDir()

	// A change that breaks the cluster is refused and changes nothing.
	broken := dir + "/broken.yaml"
	writeFile(t, broken, "namespaces:\n  - {namespace: dev-team, resourceQuota: {cpu: lots}}\n")
	r := run(t, env, "config", "publish", "-f", broken, "--layer", "env/dev")
	if r.code != 1 || !strings.Contains(r.stderr, "refused: env/dev would break 1 of the 1 clusters it affects; nothing was changed") ||
		!strings.Contains(r.stderr, `env/dev: namespaces[dev-team].resourceQuota.hard.cpu: "lots" is not a quantity`) {
		t.Fatalf("refused publish: exit %d\n%s", r.code, r.stderr)
	}
	if h := run(t, env, "config", "history", "--layer", "env/dev"); strings.Count(h.stdout, "publish") != 1 {
		t.Errorf("a refused publish must leave the history alone:\n%s", h.stdout)
	}

	// Export round-trips with publish.
	exported := dir + "/export"
	if r := run(t, env, "config", "export", "--dir", exported); r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	r = run(t, env, "config", "publish", "-f", exported+"/env/dev.yaml", "--layer", "env/dev")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to publish: env/dev version 1 already has these entries") {
		t.Errorf("re-publishing an export: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rr := run(t, cli.Env{}, "render", "-f", exported, "--cluster", "dev-k3s"); rr.code != 0 {
		t.Errorf("render of an export: %s", rr.stderr)
	}

	// Dry run shows the diff and writes nothing; a real publish then moves the head.
	changed := dir + "/changed.yaml"
	writeFile(t, changed, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	r = run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "-    cpu: \"4\"\n+    cpu: \"6\"") || !strings.Contains(r.stdout, "dry run: env/dev would publish over version 1: 0 added, 1 changed, 0 removed; 1 cluster validated (dev-k3s); nothing was changed") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev", "-m", "more cpu")
	if r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 2 (was 1)") {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d := run(t, env, "config", "diff", "--cluster", "dev-k3s", "--from", "g1.e1.c1", "--to", "latest")
	if !strings.Contains(d.stdout, "+++ b/object/v1/ResourceQuota/dev-team/dev-quota") || !strings.Contains(d.stdout, "g1.e1.c1 → g1.e2.c1: 0 added, 1 changed, 0 removed") {
		t.Errorf("cluster diff:\n%s%s", d.stdout, d.stderr)
	}
	r = run(t, env, "config", "rollback", "--layer", "env/dev", "--to", "1", "-m", "undo")
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back env/dev from version 2 to 1") {
		t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := run(t, env, "config", "get", "--layer", "env/dev", "-o", "json"); !strings.Contains(g.stdout, `"cpu": "4"`) {
		t.Errorf("after rollback the head is version 1 again:\n%s", g.stdout)
	}
	list := run(t, env, "clusters", "list")
	if !strings.Contains(list.stdout, "dev-k3s  dev          eu-west-1  g1.e1.c1") {
		t.Errorf("clusters list:\n%s", list.stdout)
	}
}

func TestDraftsPublish(t *testing.T) {
	env, cfg := examplesTable(t)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "from-console", "labels": map[string]any{"team": "ops"}})
	gone, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "payments"})
	if err := st.PutDrafts(context.Background(), config.ClusterLayer("dev-k3s"), []store.Draft{{Entry: ns}, {Entry: gone, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if l := run(t, env, "config", "drafts", "list", "--layer", "cluster/dev-k3s"); l.stdout != "replace\tnamespace/from-console\ndelete\tnamespace/payments\n" && l.stdout != "delete\tnamespace/payments\nreplace\tnamespace/from-console\n" {
		t.Errorf("drafts list:\n%s", l.stdout)
	}
	r := run(t, env, "config", "drafts", "publish", "--layer", "cluster/dev-k3s", "-m", "console edits")
	if r.code != 0 || !strings.Contains(r.stdout, "published cluster/dev-k3s version 2 (was 1): 1 added, 0 changed, 1 removed") {
		t.Fatalf("drafts publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if l := run(t, env, "config", "drafts", "list", "--layer", "cluster/dev-k3s"); l.stdout != "" {
		t.Errorf("drafts should be gone after publishing: %q", l.stdout)
	}
	g := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
	if !strings.Contains(g.stdout, `"name":"from-console"`) || strings.Contains(g.stdout, `"name":"payments"`) {
		t.Errorf("generate after drafts publish does not show the edits")
	}
}
