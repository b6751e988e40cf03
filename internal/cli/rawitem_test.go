package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// putRawItem writes an item straight to DynamoDB Local with the plain JSON API, as a person
// editing the table in the console would: no checks, no store code.
func putRawItem(t *testing.T, cfg store.Config, item map[string]any) {
	t.Helper()
	av := map[string]any{}
	for k, v := range item {
		av[k] = rawAttr(t, v)
	}
	rawCall(t, cfg, "PutItem", map[string]any{"TableName": cfg.Table, "Item": av})
}

// setRawString sets one string attribute of an item straight in DynamoDB Local, as a console
// edit would (UpdateItem, no checks).
func setRawString(t *testing.T, cfg store.Config, pk, sk, name, value string) {
	t.Helper()
	rawCall(t, cfg, "UpdateItem", map[string]any{
		"TableName":                 cfg.Table,
		"Key":                       map[string]any{"pk": rawAttr(t, pk), "sk": rawAttr(t, sk)},
		"UpdateExpression":          "SET #n = :v",
		"ExpressionAttributeNames":  map[string]any{"#n": name},
		"ExpressionAttributeValues": map[string]any{":v": rawAttr(t, value)},
	})
}

// rawCall makes one call of DynamoDB's JSON API (op: PutItem, UpdateItem ...).
func rawCall(t *testing.T, cfg store.Config, op string, in map[string]any) {
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
	// DynamoDB Local wants the header's shape, not a valid signature.
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20260101/%s/dynamodb/aws4_request, SignedHeaders=host, Signature=00", cfg.StaticCredentials.AccessKeyID, cfg.Region))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: HTTP %d: %s", op, resp.StatusCode, msg)
	}
}

func rawAttr(t *testing.T, v any) map[string]any {
	switch x := v.(type) {
	case nil:
		return map[string]any{"NULL": true}
	case string:
		return map[string]any{"S": x}
	case bool:
		return map[string]any{"BOOL": x}
	case int:
		return map[string]any{"N": strconv.Itoa(x)}
	case int64:
		return map[string]any{"N": strconv.FormatInt(x, 10)}
	case float64:
		return map[string]any{"N": strconv.FormatFloat(x, 'g', -1, 64)}
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = rawAttr(t, e)
		}
		return map[string]any{"M": m}
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = rawAttr(t, e)
		}
		return map[string]any{"L": l}
	default:
		t.Fatalf("rawAttr: %T", v)
		return nil
	}
}
