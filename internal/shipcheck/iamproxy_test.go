package shipcheck_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

// authRequests turns one DynamoDB API call into the IAM authorisation requests AWS makes for
// it (resource: the table name, resolved to an ARN by the caller).
func authRequests(op string, body []byte) ([]request, error) {
	var in struct {
		TableName     string
		Item          map[string]json.RawMessage
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]struct {
			TableName string
			Item      map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	switch op {
	case "BatchGetItem", "BatchWriteItem":
		var out []request
		for table := range in.RequestItems {
			out = append(out, request{action: "dynamodb:" + op, resource: table})
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
				out = append(out, request{action: "dynamodb:" + a, resource: x.TableName, attributes: keys(x.Item), enclosing: op})
			}
		}
		return out, nil
	default:
		if in.TableName == "" {
			return nil, fmt.Errorf("%s: no TableName", op)
		}
		return []request{{action: "dynamodb:" + op, resource: in.TableName, attributes: keys(in.Item)}}, nil
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
