package faultproxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
)

// upstream is a stand-in for DynamoDB Local: it answers every call with a JSON body that
// names the operation.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-RequestId", "upstream-id")
		_ = json.NewEncoder(w).Encode(map[string]any{"target": r.Header.Get("X-Amz-Target"), "request": string(body), "host": r.Host,
			"padding": strings.Repeat("x", 1000)})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func call(ctx context.Context, p *faultproxy.Proxy, op string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/", strings.NewReader(`{"TableName":"t"}`))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	// A fresh connection per call, as a reset or a cut body spoils the connection anyway.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestForwardsAndCounts(t *testing.T) {
	p := faultproxy.Start(t, upstream(t).URL)
	resp, body, err := call(context.Background(), p, "Query")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pass-through: %v %v", resp, err)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil || got["target"] != "DynamoDB_20120810.Query" || got["request"] != `{"TableName":"t"}` {
		t.Fatalf("upstream saw %s (%v)", body, err)
	}
	if got["host"] != strings.TrimPrefix(p.URL(), "http://") {
		t.Errorf("the Host header the client signed must reach the server unchanged: %q", got["host"])
	}
	if resp.Header.Get("x-amzn-RequestId") != "upstream-id" {
		t.Errorf("headers of the answer are not relayed: %v", resp.Header)
	}
	if p.Requests() != 1 || p.Calls("Query") != 1 || p.Injected() != 0 || p.FirstRequest().IsZero() {
		t.Errorf("counts: %s", p.Summary())
	}

	// Anything that is not a DynamoDB call (an instance metadata probe) is counted, answered
	// 404 and never forwarded.
	r, err := http.Get(p.URL() + "/latest/api/token")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if f := p.Foreign(); r.StatusCode != 404 || len(f) != 1 || f[0].Op != "GET /latest/api/token" {
		t.Errorf("foreign request: status %d, %v", r.StatusCode, f)
	}
}

func TestRulesFirstNEveryAndPerOperation(t *testing.T) {
	p := faultproxy.Start(t, upstream(t).URL)
	p.Inject(
		faultproxy.First(1, faultproxy.Status(500)).On("BatchGetItem"),
		faultproxy.First(2, faultproxy.Throttled(faultproxy.ThrottlingException)),
	)
	want := []struct {
		op     string
		status int
	}{{"Query", 400}, {"BatchGetItem", 500}, {"Query", 400}, {"BatchGetItem", 200}, {"Query", 200}}
	for i, w := range want {
		resp, _, err := call(context.Background(), p, w.op)
		if err != nil || resp.StatusCode != w.status {
			t.Fatalf("request %d (%s): status %v, err %v; want %d", i, w.op, resp, err, w.status)
		}
	}
	if p.Injected() != 3 || p.Requests() != 5 {
		t.Errorf("counts: %s", p.Summary())
	}
	p.Inject(faultproxy.Always(faultproxy.Status(502)))
	for range 3 {
		if resp, body, _ := call(context.Background(), p, "Query"); resp == nil || resp.StatusCode != 502 || !strings.Contains(string(body), "502 Bad Gateway") {
			t.Fatalf("every request: %v %s", resp, body)
		}
	}
	p.Clear()
	p.ClearLog()
	if resp, _, err := call(context.Background(), p, "Query"); err != nil || resp.StatusCode != 200 || p.Requests() != 1 {
		t.Fatalf("after Clear: %v %v, %s", resp, err, p.Summary())
	}
}

func TestErrorAnswersLookLikeDynamoDB(t *testing.T) {
	p := faultproxy.Start(t, upstream(t).URL)
	for _, tt := range []struct {
		fault  faultproxy.Fault
		status int
		typ    string
	}{
		{faultproxy.Throttled(faultproxy.ProvisionedThroughputExceeded), 400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"},
		{faultproxy.Throttled(faultproxy.ThrottlingException), 400, "com.amazonaws.dynamodb.v20120810#ThrottlingException"},
		{faultproxy.Throttled("com.amazon.coral.availability#ThrottlingException"), 400, "com.amazon.coral.availability#ThrottlingException"},
		{faultproxy.Status(500), 500, "com.amazonaws.dynamodb.v20120810#InternalServerError"},
		{faultproxy.Status(503), 503, "com.amazon.coral.availability#ServiceUnavailableException"},
	} {
		p.Inject(faultproxy.First(1, tt.fault))
		resp, body, err := call(context.Background(), p, "Query")
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tt.status || e.Type != tt.typ || e.Message == "" {
			t.Errorf("%s: status %d, body %s", tt.fault, resp.StatusCode, body)
		}
		if id := resp.Header.Get("x-amzn-RequestId"); !strings.HasPrefix(id, faultproxy.RequestIDPrefix) {
			t.Errorf("%s: request id %q", tt.fault, id)
		}
		if resp.Header.Get("Content-Type") != "application/x-amz-json-1.0" || resp.Header.Get("x-amz-crc32") == "" {
			t.Errorf("%s: headers %v", tt.fault, resp.Header)
		}
	}
}

func TestBrokenConnections(t *testing.T) {
	p := faultproxy.Start(t, upstream(t).URL)

	p.Inject(faultproxy.First(1, faultproxy.ResetConnection()))
	if _, _, err := call(context.Background(), p, "Query"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset: got %v, want a connection reset", err)
	}

	p.Inject(faultproxy.First(1, faultproxy.Truncate()))
	resp, body, err := call(context.Background(), p, "Query")
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp == nil || resp.StatusCode != 200 || len(body) == 0 {
		t.Errorf("cut body: status %v, %d bytes, err %v; want the headers, part of the body, then unexpected EOF", resp, len(body), err)
	}

	p.Inject(faultproxy.First(1, faultproxy.Slow(50*time.Millisecond)))
	if resp, body, err := call(context.Background(), p, "Query"); err != nil || resp.StatusCode != 200 || !json.Valid(body) {
		t.Errorf("slow body: %v %v", resp, err)
	}

	p.Inject(faultproxy.First(1, faultproxy.Latency(20*time.Millisecond)))
	if resp, _, err := call(context.Background(), p, "Query"); err != nil || resp.StatusCode != 200 {
		t.Errorf("latency: %v %v", resp, err)
	}
}

func TestHangEndsWithTheClientOrTheProxy(t *testing.T) {
	p := faultproxy.Start(t, upstream(t).URL)
	p.Inject(faultproxy.Always(faultproxy.NoAnswer()))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, _, err := call(ctx, p, "Query"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: got %v, want the client's deadline", err)
	}

	// A request still hanging when the proxy closes is ended by Close, which then returns.
	done := make(chan error, 1)
	go func() {
		_, _, err := call(context.Background(), p, "Query")
		done <- err
	}()
	for p.Requests() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("a request the proxy never answered succeeded")
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, target := range []string{"https://dynamodb.eu-west-1.amazonaws.com", "http://10.0.0.1:8000", "::"} {
		if p, err := faultproxy.New(target); err == nil {
			p.Close()
			t.Errorf("New(%q) accepted a target that is not a loopback http endpoint", target)
		}
	}
}
