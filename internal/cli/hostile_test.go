package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/hostiletest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Parameters with shell metacharacters reach generate (a fresh process, as Argo CD runs it)
// in every form argocd-cmp-server passes them; none is ever run by a shell, and each is
// refused with one paragraph naming the value quoted.
func TestGenerateNeverRunsParameters(t *testing.T) {
	env, _ := examplesTable(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	for _, v := range []string{"$(touch " + marker + ")", "`touch " + marker + "`", "dev; touch " + marker, "dev && touch " + marker, "dev\ntouch " + marker, "dev | touch " + marker} {
		for _, e := range []map[string]string{
			{"PARAM_CLUSTER": v},
			{"ARGOCD_ENV_CLUSTER": v},
			{"PARAM_CLUSTER": "dev-k3s", "PARAM_ENVIRONMENT": v},
			{"PARAM_CLUSTER": "dev-k3s", "PARAM_COMPONENTS_0": v},
			{"PARAM_CLUSTER": "dev-k3s", "PARAM_CONFIGVERSION": v},
		} {
			procEnv := sidecarEnv(t, env, env["AWS_ENDPOINT_URL_DYNAMODB"], "http://127.0.0.1:9")
			delete(procEnv, "ARGOCD_APP_PARAMETERS")
			for k, val := range e {
				procEnv[k] = val
			}
			r := runProcess(t, procEnv, "generate")
			assertFailedCleanly(t, r, 1, "the Application's plugin parameters are invalid")
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a parameter was executed: the marker file exists")
	}
}

// Items that no publish would write but that a console edit or a faulty tool can put in the
// table make generate fail cleanly: one paragraph, nothing on stdout, no item content.
func TestGenerateRefusesHostileItems(t *testing.T) {
	env, cfg := examplesTable(t)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := config.ClusterLayer("dev-k3s")
	cur, err := st.ReadVersion(context.Background(), ref, 1)
	if err != nil {
		t.Fatal(err)
	}
	params := `[{"name":"cluster","string":"dev-k3s"}]`
	base := 1
	for _, tt := range []struct {
		name string
		body map[string]any
		want string
	}{
		{name: "a namespace name with a YAML document marker", body: map[string]any{"namespace": "evil\n---\nkind: Secret"},
			want: `"evil\n---\nkind: Secret" is not a valid name`},
		{name: "a 1,000-character namespace name", body: map[string]any{"namespace": strings.Repeat("n", 1000)}, want: "is not a valid name"},
		{name: "path traversal", body: map[string]any{"namespace": "../../etc"}, want: `"../../etc" is not a valid name`},
		{name: "a quota that is a script", body: map[string]any{"namespace": "x", "resourceQuota": map[string]any{"hard": map[string]any{"cpu": "$(id)"}}},
			want: `"$(id)" is not a quantity`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad, err := config.NewEntry(config.KindNamespace, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			// Publish around validation, as a hand-edited item would arrive.
			h, err := st.Publish(context.Background(), store.PublishInput{Ref: ref, Entries: append(append([]config.Entry(nil), cur.Entries...), bad), Base: base})
			if err != nil {
				t.Fatal(err)
			}
			base = h.Version
			var r result
			hostiletest.Bounded(t, 200*hostiletest.MB, func() { r = run(t, argocdEnv(env, params), "generate") })
			if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "[trace ") || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, %d bytes on stdout; stderr:\n%s", r.code, len(r.stdout), r.stderr)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 || len(r.stderr) > 8<<10 {
				t.Errorf("stderr is not one short paragraph (%d lines, %d bytes):\n%s", lines, len(r.stderr), r.stderr)
			}
		})
	}
}

// A layer file whose entry is over DynamoDB's 400 KB item limit is refused by publish with a
// readable message, and nothing changes: generate keeps rendering the published version.
func TestPublishItemOverDynamoDBLimit(t *testing.T) {
	env, _ := examplesTable(t)
	before := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
	if before.code != 0 {
		t.Fatalf("generate: %s", before.stderr)
	}
	big := filepath.Join(t.TempDir(), "dev-k3s.yaml")
	writeFile(t, big, readFile(t, "../../examples/layers/cluster/dev-k3s.yaml")+
		"manifests:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: big, namespace: dev-team}\n    data:\n      blob: "+strings.Repeat("q", 410<<10)+"\n")
	var r result
	hostiletest.Bounded(t, 300*hostiletest.MB, func() {
		r = run(t, env, "config", "publish", "-f", big, "--layer", "cluster/dev-k3s", "-m", "too big")
	})
	if r.code != 1 || !strings.Contains(r.stderr, "entry manifest/ConfigMap/dev-team/big takes 411 KB as a DynamoDB item, over DynamoDB's 400 KB item limit: split it into smaller entries") {
		t.Fatalf("publish of a 410 KB entry: exit %d\nstderr: %.2000s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "qqqq") {
		t.Errorf("the error quotes the item's content: %.500s", r.stderr)
	}
	if strings.Contains(r.stdout, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq") {
		t.Errorf("the refused publish printed the 410 KB value on stdout (%d bytes)", len(r.stdout))
	}
	after := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
	if after.code != 0 || after.stdout != before.stdout {
		t.Errorf("after the refused publish generate changed: exit %d %s", after.code, after.stderr)
	}
}
