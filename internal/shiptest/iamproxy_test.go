package shiptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// iamProxy stands where AWS authorises a request: between the SDK and DynamoDB Local, it
// evaluates every DynamoDB call against the IAM policies of one principal, answers a denied
// call exactly as DynamoDB does (HTTP 400 AccessDeniedException naming the action and the
// table's ARN), and forwards the others. It records every action asked for, so a test can
// compare what the commands really call with what the policy files allow.
//
// Transactions are authorised per item, as in AWS: a TransactWriteItems with a Put and an
// Update needs dynamodb:PutItem and dynamodb:UpdateItem (with dynamodb:EnclosingOperation
// TransactWriteItems).
type iamProxy struct {
	target  string
	table   string // the test's table, which the policies call exampleARN
	example string
	policy  *effective
	ln      net.Listener
	srv     *http.Server
	client  *http.Client

	mu      sync.Mutex
	allowed map[string]int
	denied  map[string]int
	// rejectCredentials answers every call as AWS does for an unknown access key.
	rejectCredentials bool
}

func startIAMProxy(t *testing.T, target, table string, pol *effective) *iamProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &iamProxy{
		target: target, table: table, example: exampleTableARN(t), policy: pol, ln: ln,
		client:  &http.Client{Timeout: time.Minute},
		allowed: map[string]int{}, denied: map[string]int{},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *iamProxy) URL() string { return "http://" + p.ln.Addr().String() }

// reset forgets the recorded actions.
func (p *iamProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowed, p.denied = map[string]int{}, map[string]int{}
}

// actions returns the actions allowed and denied so far, sorted.
func (p *iamProxy) actions() (allowed, denied []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a := range p.allowed {
		allowed = append(allowed, a)
	}
	for a := range p.denied {
		denied = append(denied, a)
	}
	slices.Sort(allowed)
	slices.Sort(denied)
	return allowed, denied
}

func (p *iamProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "DynamoDB_20120810.")
	if r.Method != http.MethodPost || !ok {
		http.Error(w, "not a DynamoDB call: "+r.Method+" "+target, http.StatusBadRequest)
		return
	}
	if p.rejectCredentials {
		awsError(w, "com.amazon.coral.service#UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	reqs, err := authRequests(op, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for i := range reqs {
		table := reqs[i].resource
		reqs[i].resource = p.arn(table)
	}
	p.mu.Lock()
	var deny *request
	for i, rq := range reqs {
		if p.policy == nil || p.policy.allows(rq) {
			p.allowed[rq.action]++
			continue
		}
		p.denied[rq.action]++
		if deny == nil {
			deny = &reqs[i]
		}
	}
	p.mu.Unlock()
	if deny != nil {
		awsError(w, "com.amazon.coral.service#AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::123456789012:assumed-role/dynamo-cmp-shipcheck/session-1 is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			deny.action, deny.resource, deny.action))
		return
	}
	fwd, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range r.Header {
		fwd.Header[k] = v
	}
	resp, err := p.client.Do(fwd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// arn is the resource a call on table is authorised against: the policies' example ARN for
// the test's table, another table's ARN (which no policy names) otherwise.
func (p *iamProxy) arn(table string) string {
	if table == p.table {
		return p.example
	}
	return p.example[:strings.LastIndex(p.example, "/")+1] + table
}

func awsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "SHIPCHECKREQ0000000000000000000000000000000000")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "Message": msg})
}

// wireItem is an item or key in DynamoDB's JSON wire format: attribute name to typed value.
type wireItem map[string]map[string]json.RawMessage

// pk returns the item's partition key ("" when it has none).
func (it wireItem) pk() string {
	var v string
	if raw, ok := it["pk"]["S"]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return v
}

func (it wireItem) names() []string {
	out := make([]string, 0, len(it))
	for k := range it {
		out = append(out, k)
	}
	return out
}

// wireRequest is what authorisation looks at in one item request: a PutItem, UpdateItem,
// DeleteItem, GetItem or ConditionCheck (alone or inside a transaction), or a Query.
type wireRequest struct {
	TableName                 string
	Item                      wireItem
	Key                       wireItem
	UpdateExpression          string
	ConditionExpression       string
	KeyConditionExpression    string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues wireItem
}

// attributes are the top-level attribute names a write request names (dynamodb:Attributes):
// the item's, the key's, and those its update and condition expressions name.
func (w wireRequest) attributes() []string {
	set := map[string]bool{}
	for _, n := range w.Item.names() {
		set[n] = true
	}
	for _, n := range w.Key.names() {
		set[n] = true
	}
	for _, expr := range []string{w.UpdateExpression, w.ConditionExpression} {
		for _, n := range expressionNames(expr, w.ExpressionAttributeNames) {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// leadingKeys is the partition key the request addresses (dynamodb:LeadingKeys).
func (w wireRequest) leadingKeys() []string {
	switch {
	case w.Item != nil:
		return []string{w.Item.pk()}
	case w.Key != nil:
		return []string{w.Key.pk()}
	case w.KeyConditionExpression != "":
		// The store's queries say "pk = :pk" (and maybe a sort key condition).
		m := regexp.MustCompile(`(#?[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)`).FindAllStringSubmatch(w.KeyConditionExpression, -1)
		for _, g := range m {
			name := g[1]
			if strings.HasPrefix(name, "#") {
				name = w.ExpressionAttributeNames[name]
			}
			if name == "pk" {
				var v string
				_ = json.Unmarshal(w.ExpressionAttributeValues[g[2]]["S"], &v)
				return []string{v}
			}
		}
	}
	return nil
}

// expressionKeywords are the words of update and condition expressions that are not
// attribute names.
var expressionKeywords = map[string]bool{
	"SET": true, "ADD": true, "REMOVE": true, "DELETE": true, "AND": true, "OR": true, "NOT": true,
	"BETWEEN": true, "IN": true, "attribute_exists": true, "attribute_not_exists": true,
	"attribute_type": true, "begins_with": true, "contains": true, "size": true,
	"if_not_exists": true, "list_append": true,
}

// expressionNames returns the top-level attribute names an expression refers to: #names
// resolved, plain names, the first element of each document path.
func expressionNames(expr string, names map[string]string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`[#:]?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_#]+|\[\d+\])*`).FindAllString(expr, -1) {
		if strings.HasPrefix(m, ":") {
			continue
		}
		first := m
		if i := strings.IndexAny(first, ".["); i >= 0 {
			first = first[:i]
		}
		switch {
		case strings.HasPrefix(first, "#"):
			out = append(out, names[first])
		case !expressionKeywords[first]:
			out = append(out, first)
		}
	}
	return out
}

// authRequests turns one DynamoDB API call into the IAM authorisation requests AWS makes for
// it (resource: the table name, resolved to an ARN by the caller), with the condition keys
// the policies use: dynamodb:LeadingKeys, dynamodb:Attributes, dynamodb:EnclosingOperation.
func authRequests(op string, body []byte) ([]request, error) {
	var in struct {
		wireRequest
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]wireRequest
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	switch op {
	case "BatchGetItem":
		var out []request
		for table, raw := range in.RequestItems {
			var ka struct{ Keys []wireItem }
			if err := json.Unmarshal(raw, &ka); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			r := request{action: "dynamodb:" + op, resource: table}
			for _, k := range ka.Keys {
				r.leadingKeys = append(r.leadingKeys, k.pk())
			}
			out = append(out, r)
		}
		return out, nil
	case "BatchWriteItem":
		var out []request
		for table, raw := range in.RequestItems {
			var reqs []struct {
				PutRequest    *struct{ Item wireItem }
				DeleteRequest *struct{ Key wireItem }
			}
			if err := json.Unmarshal(raw, &reqs); err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			r := request{action: "dynamodb:" + op, resource: table}
			attrs := map[string]bool{}
			for _, w := range reqs {
				var it wireItem
				if w.PutRequest != nil {
					it = w.PutRequest.Item
				} else if w.DeleteRequest != nil {
					it = w.DeleteRequest.Key
				}
				r.leadingKeys = append(r.leadingKeys, it.pk())
				for _, n := range it.names() {
					attrs[n] = true
				}
			}
			for n := range attrs {
				r.attributes = append(r.attributes, n)
			}
			slices.Sort(r.attributes)
			out = append(out, r)
		}
		return out, nil
	case "TransactWriteItems", "TransactGetItems":
		actions := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
		var out []request
		for _, item := range in.TransactItems {
			for kind, x := range item {
				a, ok := actions[kind]
				if !ok {
					return nil, fmt.Errorf("%s: unknown transaction item %q", op, kind)
				}
				out = append(out, request{action: "dynamodb:" + a, resource: x.TableName, attributes: x.attributes(), enclosing: op, leadingKeys: x.leadingKeys()})
			}
		}
		return out, nil
	default:
		if in.TableName == "" {
			return nil, fmt.Errorf("%s: no TableName", op)
		}
		r := request{action: "dynamodb:" + op, resource: in.TableName, leadingKeys: in.leadingKeys()}
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem":
			r.attributes = in.attributes()
		}
		return []request{r}, nil
	}
}
