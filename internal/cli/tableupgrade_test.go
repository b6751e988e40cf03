package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// rawMove moves an item to other keys straight in DynamoDB Local, as the release that wrote
// it there would have: GetItem, PutItem under the new keys, DeleteItem.
func rawMove(t *testing.T, cfg store.Config, fromPK, fromSK, toPK, toSK string) {
	t.Helper()
	out := rawCallOut(t, cfg, "GetItem", map[string]any{"TableName": cfg.Table, "ConsistentRead": true,
		"Key": map[string]any{"pk": rawAttr(t, fromPK), "sk": rawAttr(t, fromSK)}})
	item, ok := out["Item"].(map[string]any)
	if !ok {
		t.Fatalf("no item %s/%s to move", fromPK, fromSK)
	}
	item["pk"], item["sk"] = rawAttr(t, toPK), rawAttr(t, toSK)
	rawCall(t, cfg, "PutItem", map[string]any{"TableName": cfg.Table, "Item": item})
	rawCall(t, cfg, "DeleteItem", map[string]any{"TableName": cfg.Table, "Key": map[string]any{"pk": rawAttr(t, fromPK), "sk": rawAttr(t, fromSK)}})
}

// rawCallOut is rawCall returning the decoded answer.
func rawCallOut(t *testing.T, cfg store.Config, op string, in map[string]any) map[string]any {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20260101/%s/dynamodb/aws4_request, SignedHeaders=host, Signature=00", cfg.StaticCredentials.AccessKeyID, cfg.Region))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", op, resp.StatusCode, msg)
	}
	var out map[string]any
	if err := json.Unmarshal(msg, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A live rollout written by a release before serve's items had partitions of their own
// (pk registry, sk rollout#env#dev): this release shows it and warns, refuses a step on it
// (exit 1, naming `table upgrade`, nothing written) rather than losing it, and after
// `table upgrade` (idempotent) the rollout goes on.
func TestTableUpgradeMovesALiveRollout(t *testing.T) {
	env, cfg := tableEnv(t)
	threeDevClusters(t, env)
	file := t.TempDir() + "/two-waves.yaml"
	writeFile(t, file, twoWaves)
	if r := run(t, env, "rollout", "strategy", "put", "-f", file); r.code != 0 {
		t.Fatalf("strategy put: %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "publish", "-f", devChange(t, "6"), "--layer", "env/dev", "--actor", "alice"); r.code != 0 {
		t.Fatalf("publish: %d %s", r.code, r.stderr)
	}
	rawMove(t, cfg, "rollout", "env#dev", "registry", "rollout#env#dev")

	r := run(t, env, "rollout", "status", "--layer", "env/dev")
	if r.code != 0 || !strings.Contains(r.stdout, "progressing") ||
		!strings.Contains(r.stderr, "holds 1 item(s) at the key layout of an earlier release (registry/rollout#env#dev)") || !strings.Contains(r.stderr, "dynamo-cmp table upgrade") {
		t.Fatalf("status of a rollout at the old key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := readStatus(t, env)
	r = run(t, env, "rollout", "pause", "--layer", "env/dev", "--actor", "alice")
	if r.code != 1 || !strings.Contains(r.stderr, "stored at the key of an earlier release") || !strings.Contains(r.stderr, "dynamo-cmp table upgrade") {
		t.Fatalf("pause of a rollout at the old key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := readStatus(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused pause changed the rollout:\n%v\n%v", before, after)
	}

	if r := run(t, env, "table", "upgrade", "--dry-run"); r.code != 0 || r.stdout != "would move registry/rollout#env#dev to rollout/env#dev: the rollout of env/dev\n" {
		t.Errorf("dry run: exit %d\n%q%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "table", "upgrade"); r.code != 0 || r.stdout != "moved registry/rollout#env#dev to rollout/env#dev: the rollout of env/dev\n" {
		t.Fatalf("upgrade: exit %d\n%q%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "table", "upgrade"); r.code != 0 || !strings.Contains(r.stdout, "is at the current key layout: nothing to move") {
		t.Errorf("second upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := readStatus(t, env); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the upgrade changed the rollout:\n%v\n%v", before, after)
	}
	if r := run(t, env, "rollout", "pause", "--layer", "env/dev", "--actor", "alice"); r.code != 0 || r.stderr != "" {
		t.Errorf("pause after the upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
