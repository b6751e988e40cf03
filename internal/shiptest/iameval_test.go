package shiptest_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestIAMEvaluator checks the pieces of the proxy's IAM evaluation on requests whose answer is
// known from AWS's documentation: StringLike wildcards, the leading keys and attribute names
// of each kind of request, and ForAllValues over none, one or several values.
func TestIAMEvaluator(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"cluster#team-a-*", "cluster#team-a-dev", true},
		{"cluster#team-a-*", "cluster#team-a-", true},
		{"cluster#team-a-*", "cluster#team-b-dev", false},
		{"cluster#team-a-*", "Cluster#team-a-dev", false},
		{"env#*", "env#", true},
		{"env#*", "env", false},
		{"global", "global", true},
		{"global", "global2", false},
		{"lkg#?", "lkg#a", true},
		{"lkg#?", "lkg#ab", false},
		{"*#*", "observed#x", true},
	} {
		if got := stringLike(c.pattern, c.s); got != c.want {
			t.Errorf("StringLike %q %q = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}

	auth := func(op string, body map[string]any) []request {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		reqs, err := authRequests(op, b)
		if err != nil {
			t.Fatal(err)
		}
		return reqs
	}
	q := auth("Query", map[string]any{"TableName": "t", "KeyConditionExpression": "#p = :pk AND begins_with(sk, :prefix)",
		"ExpressionAttributeNames": map[string]any{"#p": "pk"}, "ExpressionAttributeValues": map[string]any{":pk": avS("env#dev"), ":prefix": avS("v#")}})
	if len(q) != 1 || !slices.Equal(q[0].leadingKeys, []string{"env#dev"}) {
		t.Errorf("Query leading keys %+v, want env#dev", q)
	}
	u := auth("UpdateItem", map[string]any{"TableName": "t", "Key": map[string]any{"pk": avS("changes"), "sk": avS("seq")},
		"UpdateExpression": "ADD seq :one SET #at = :at, doc.inner[2] = :x", "ConditionExpression": "attribute_not_exists(pk) OR size(tags) > :n",
		"ExpressionAttributeNames": map[string]any{"#at": "at"}})
	if len(u) != 1 || !slices.Equal(u[0].attributes, []string{"at", "doc", "pk", "seq", "sk", "tags"}) || !slices.Equal(u[0].leadingKeys, []string{"changes"}) {
		t.Errorf("UpdateItem attributes %v, leading keys %v", u[0].attributes, u[0].leadingKeys)
	}
	bw := auth("BatchWriteItem", map[string]any{"RequestItems": map[string]any{"t": []any{
		map[string]any{"PutRequest": map[string]any{"Item": map[string]any{"pk": avS("cluster#team-a-dev"), "sk": avS("x"), "namespace": avS("a")}}},
		map[string]any{"DeleteRequest": map[string]any{"Key": map[string]any{"pk": avS("policy"), "sk": avS("y")}}}}}})
	if len(bw) != 1 || !slices.Equal(bw[0].leadingKeys, []string{"cluster#team-a-dev", "policy"}) {
		t.Errorf("BatchWriteItem leading keys %+v", bw)
	}
	tx := auth("TransactWriteItems", map[string]any{"TransactItems": []any{
		map[string]any{"Put": map[string]any{"TableName": "t", "Item": map[string]any{"pk": avS("rollout"), "sk": avS("global"), "rev": avN(2)}}},
		map[string]any{"Delete": map[string]any{"TableName": "t", "Key": map[string]any{"pk": avS("registry"), "sk": avS("rollout#global")}}}}})
	if len(tx) != 2 || tx[0].action != "dynamodb:PutItem" || tx[0].enclosing != "TransactWriteItems" || !slices.Equal(tx[0].leadingKeys, []string{"rollout"}) ||
		tx[1].action != "dynamodb:DeleteItem" || !slices.Equal(tx[1].leadingKeys, []string{"registry"}) {
		t.Errorf("TransactWriteItems %+v", tx)
	}

	cond := map[string]map[string]stringList{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": {"cluster#team-a-*"}}}
	for _, c := range []struct {
		keys []string
		want bool
	}{
		{nil, true}, // no key in the request (DescribeTable): ForAllValues holds, as AWS documents
		{[]string{"cluster#team-a-dev"}, true},
		{[]string{"cluster#team-a-dev", "cluster#team-a-prod"}, true},
		{[]string{"cluster#team-a-dev", "policy"}, false},
	} {
		if got := conditionsHold(cond, request{leadingKeys: c.keys}); got != c.want {
			t.Errorf("ForAllValues:StringLike over %v = %v, want %v", c.keys, got, c.want)
		}
	}
}
