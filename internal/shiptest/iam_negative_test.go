package shiptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// attack is one call a stolen credential would make: DynamoDB's JSON API, as the AWS CLI or a
// script sends it (no dynamo-cmp code involved).
type attack struct {
	name string
	op   string
	body map[string]any
}

// avS, avN and avB build DynamoDB JSON attribute values.
func avS(v string) map[string]any { return map[string]any{"S": v} }
func avN(v int) map[string]any    { return map[string]any{"N": fmt.Sprint(v)} }
func avB(v bool) map[string]any   { return map[string]any{"BOOL": v} }

func put(table string, item map[string]any) map[string]any {
	return map[string]any{"TableName": table, "Item": item}
}

func txPut(table string, items ...map[string]any) map[string]any {
	var tx []any
	for _, it := range items {
		tx = append(tx, map[string]any{"Put": map[string]any{"TableName": table, "Item": it}})
	}
	return map[string]any{"TransactItems": tx}
}

// headItem is a head (or its registry mirror) with exactly a rollback's attributes.
func headItem(pk, sk string, version int) map[string]any {
	return map[string]any{"pk": avS(pk), "sk": avS(sk), "layer": avS("cluster/dev-k3s"), "version": avN(version), "previous": avN(1),
		"at": avS("2026-12-08T00:00:00.000000000Z"), "actor": avS("x"), "message": avS("x"), "traceId": avS("t"),
		"digest": avS("sha256:0"), "entries": avN(1), "action": avS("rollback")}
}

// TestStolenServeCredentialsCannotPublish makes, for each statement of serve's policy files and
// of the example layer writer, the calls a stolen credential would make to change what is
// rendered or to reach another principal's items — write an entry, write version metadata
// with a digest, mark a version published, overwrite a head outside a rollback's attributes,
// rewrite a rollout from the last-known-good credential, write into another principal's
// partition, a whole publish in one transaction — and checks that the policy files deny each
// one. Each call is also made with the files of the release before the key layout
// (testdata/iam-before-layout), which must ALLOW it and let it write: so every case is a hole
// that was open and is now closed, not a call nothing ever allowed.
func TestStolenServeCredentialsCannotPublish(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	publishExamples(t, storeEnv(t, cfg, endpoint))
	table := cfg.Table
	before := filepath.Join("testdata", "iam-before-layout")

	entry := map[string]any{"pk": avS("cluster#dev-k3s"), "sk": avS("v#0000000009#namespace#evil"), "namespace": avS("evil")}
	meta := map[string]any{"pk": avS("cluster#dev-k3s"), "sk": avS("v#0000000009"), "layer": avS("cluster/dev-k3s"), "version": avN(9), "based": avN(1),
		"at": avS("2026-12-08T00:00:00.000000000Z"), "digest": avS("sha256:0"), "entries": avN(1), "published": avB(true)}
	audit := map[string]any{"pk": avS("cluster#dev-k3s"), "sk": avS("audit#2026-12-08T00:00:00.000000000Z#t"), "layer": avS("cluster/dev-k3s"),
		"action": avS("publish"), "from": avN(1), "to": avN(9), "at": avS("2026-12-08T00:00:00.000000000Z")}
	headWithExtra := headItem("cluster#dev-k3s", "head", 1)
	headWithExtra["published"] = avB(true)

	cases := []struct {
		files   []string // the principal's policy files (the same names in testdata for the old ones)
		old     []string // the old files, when they differ
		attacks []attack
	}{
		{files: []string{"serve-read-only.json", "serve-last-known-good.json"}, attacks: []attack{
			{"overwrite a head with the last-known-good attributes", "PutItem", put(table, map[string]any{"pk": avS("cluster#dev-k3s"), "sk": avS("head"), "at": avS("x")})},
			{"overwrite the registry mirror of a head", "PutItem", put(table, map[string]any{"pk": avS("registry"), "sk": avS("layer#cluster#dev-k3s"), "cluster": avS("x"), "at": avS("x")})},
			{"overwrite a policy", "PutItem", put(table, map[string]any{"pk": avS("policy"), "sk": avS("team-a"), "at": avS("x")})},
			{"rewrite a rollout item", "PutItem", put(table, map[string]any{"pk": avS("rollout"), "sk": avS("env#dev"), "at": avS("x")})},
			{"write into the observations' partition", "PutItem", put(table, map[string]any{"pk": avS("observed#dev-k3s"), "sk": avS("observed"), "at": avS("x")})},
		}},
		{files: []string{"serve-read-only.json", "serve-last-known-good.json", "serve-rollouts.json"}, attacks: []attack{
			{"overwrite a head with the rollout attributes", "PutItem", put(table, map[string]any{"pk": avS("env#dev"), "sk": avS("head"), "layer": avS("env/dev"), "state": avS("x"), "at": avS("x")})},
			{"write version metadata with the rollout attributes", "PutItem", put(table, map[string]any{"pk": avS("env#dev"), "sk": avS("v#0000000009"), "layer": avS("env/dev"), "at": avS("x")})},
			{"rewrite a rollout at the registry key of the old layout", "PutItem", put(table, map[string]any{"pk": avS("registry"), "sk": avS("rollout#env#dev"), "layer": avS("env/dev"), "id": avS("x"), "rev": avN(9), "state": avS("progressing"), "rollout": avS("{}")})},
			{"rewrite a strategy", "PutItem", put(table, map[string]any{"pk": avS("strategy"), "sk": avS("default"), "at": avS("x")})},
			{"move a head's time in a transaction", "TransactWriteItems", map[string]any{"TransactItems": []any{map[string]any{"Update": map[string]any{
				"TableName": table, "Key": map[string]any{"pk": avS("cluster#dev-k3s"), "sk": avS("head")},
				"UpdateExpression": "SET #at = :at", "ExpressionAttributeNames": map[string]any{"#at": "at"},
				"ExpressionAttributeValues": map[string]any{":at": avS("x")}}}}}},
		}},
		{files: []string{"serve-read-only.json", "serve-last-known-good.json", "serve-auto-rollback.json"}, attacks: []attack{
			{"write an entry in a transaction", "TransactWriteItems", txPut(table, entry)},
			{"write version metadata with a digest, published", "TransactWriteItems", txPut(table, meta)},
			{"a whole publish in one transaction: metadata, entry, head, audit", "TransactWriteItems", txPut(table, meta, entry, headItem("cluster#dev-k3s", "head", 9), audit)},
			{"overwrite a head outside a rollback's attributes", "TransactWriteItems", txPut(table, headWithExtra)},
			{"mark a version published with another digest", "TransactWriteItems", map[string]any{"TransactItems": []any{map[string]any{"Update": map[string]any{
				"TableName": table, "Key": map[string]any{"pk": avS("env#dev"), "sk": avS("v#0000000001")},
				"UpdateExpression":          "SET digest = :d, published = :t",
				"ExpressionAttributeValues": map[string]any{":d": avS("sha256:0"), ":t": avB(true)}}}}}},
			{"write a policy in a transaction", "TransactWriteItems", txPut(table, map[string]any{"pk": avS("policy"), "sk": avS("evil"), "at": avS("x")})},
			{"rewrite a rollout in a transaction", "TransactWriteItems", txPut(table, map[string]any{"pk": avS("rollout"), "sk": avS("env#dev"), "layer": avS("env/dev"), "at": avS("x")})},
		}},
		{files: layerWriterPolicies, old: operatorPolicies, attacks: []attack{
			{"write a policy", "BatchWriteItem", map[string]any{"RequestItems": map[string]any{table: []any{map[string]any{"PutRequest": map[string]any{"Item": map[string]any{"pk": avS("policy"), "sk": avS("evil"), "policy": avS("{}")}}}}}}},
			{"write a policy's audit record", "PutItem", put(table, map[string]any{"pk": avS("policy-audit"), "sk": avS("x"), "at": avS("x")})},
			{"write a strategy", "PutItem", put(table, map[string]any{"pk": avS("strategy"), "sk": avS("evil"), "strategy": avS("{}")})},
			{"write another team's cluster layer", "PutItem", put(table, map[string]any{"pk": avS("cluster#team-b-dev"), "sk": avS("draft#namespace#evil"), "namespace": avS("evil")})},
			{"write an environment layer", "PutItem", put(table, map[string]any{"pk": avS("env#dev"), "sk": avS("draft#namespace#evil"), "namespace": avS("evil")})},
			{"write serve's last known good", "PutItem", put(table, map[string]any{"pk": avS("lkg#team-a-dev"), "sk": avS("lkg"), "at": avS("x")})},
			{"write a rollout", "PutItem", put(table, map[string]any{"pk": avS("rollout"), "sk": avS("global"), "at": avS("x")})},
			{"a batch mixing its own partition with another", "BatchWriteItem", map[string]any{"RequestItems": map[string]any{table: []any{
				map[string]any{"PutRequest": map[string]any{"Item": map[string]any{"pk": avS("cluster#team-a-dev"), "sk": avS("draft#namespace#ok"), "namespace": avS("ok")}}},
				map[string]any{"PutRequest": map[string]any{"Item": map[string]any{"pk": avS("policy"), "sk": avS("evil")}}}}}}},
		}},
	}
	for _, c := range cases {
		name := c.files[len(c.files)-1]
		t.Run(name, func(t *testing.T) {
			oldFiles := c.old
			if oldFiles == nil {
				oldFiles = c.files
			}
			denyProxy := startIAMProxy(t, endpoint, table, loadEffective(t, c.files))
			oldProxy := startIAMProxy(t, endpoint, table, loadEffectiveFrom(t, before, oldFiles))
			for _, a := range c.attacks {
				status, body := rawDynamo(t, cfg, denyProxy.URL(), a.op, a.body)
				if status != http.StatusBadRequest || !strings.Contains(body, "AccessDeniedException") {
					t.Errorf("%s (%s) with %v: HTTP %d %s, want AccessDeniedException", a.name, a.op, c.files, status, body)
				}
				status, body = rawDynamo(t, cfg, oldProxy.URL(), a.op, a.body)
				if status != http.StatusOK {
					t.Errorf("%s (%s) with the old %v: HTTP %d %s; the case must show a call the old files allowed", a.name, a.op, oldFiles, status, body)
				}
			}
		})
	}

	// What the auto-rollback statements still allow in a layer partition — an item at a
	// version's metadata key made of a head's attributes (a digest, no `published`), and a
	// head pointing at it — renders nothing: generate refuses the version, prints nothing.
	// Its own table: the calls above that the old files allowed wrote junk (an env head whose
	// `at` is "x", ...), which generate would report before the version it must refuse.
	t.Run("what auto-rollback may write renders nothing unpublished", func(t *testing.T) {
		cfg := dynamolocal.NewTable(t, endpoint)
		publishExamples(t, storeEnv(t, cfg, endpoint))
		p := startIAMProxy(t, endpoint, cfg.Table, loadEffective(t, serveRollbackPolicy))
		fake := headItem("cluster#dev-k3s", "v#0000000009", 9)
		head := headItem("cluster#dev-k3s", "head", 9)
		head["cluster"] = map[string]any{"M": map[string]any{"name": avS("dev-k3s"), "environment": avS("dev"), "region": avS("eu-west-1")}}
		for _, item := range []map[string]any{fake, head} {
			if status, body := rawDynamo(t, cfg, p.URL(), "TransactWriteItems", txPut(cfg.Table, item)); status != http.StatusOK {
				t.Fatalf("a rollback-shaped write: HTTP %d %s", status, body)
			}
		}
		r := run(t, argocd(storeEnv(t, cfg, endpoint), `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
		if r.Code == 0 || r.Stdout != "" || !strings.Contains(r.Stderr, "never published") {
			t.Errorf("generate of a head at a version auto-rollback's role wrote: %s", r)
		}
	})
}

// rawDynamo makes one call of DynamoDB's JSON API at url and returns the status and body.
func rawDynamo(t *testing.T, cfg store.Config, url, op string, in map[string]any) (int, string) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	// DynamoDB Local wants the header's shape, not a valid signature.
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20260101/%s/dynamodb/aws4_request, SignedHeaders=host, Signature=00", cfg.StaticCredentials.AccessKeyID, cfg.Region))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
