package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestGeneratorRejectsMissingOrWrongToken(t *testing.T) {
	t.Parallel()
	st, calls := newStore(t)
	seed(t, st)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(t, st)
	opts.GeneratorToken = secret.NewFile(tokenFile)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	calls.Reset()
	var unauthorized []string
	for name, header := range map[string]string{
		"no header":        "",
		"wrong token":      "Bearer not-the-token",
		"token prefix":     "Bearer " + testToken[:5],
		"token suffix":     "Bearer " + testToken + "x",
		"basic scheme":     "Basic " + testToken,
		"scheme only":      "Bearer",
		"bare token":       testToken,
		"empty bearer":     "Bearer ",
		"other header use": "Token " + testToken,
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+GetParamsPath, strings.NewReader(`{"applicationSetName":"a","input":{}}`))
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
		unauthorized = append(unauthorized, body.String())
	}
	for _, b := range unauthorized[1:] {
		if b != unauthorized[0] {
			t.Errorf("401 answers differ (%q vs %q): they must not say why", b, unauthorized[0])
		}
	}
	if strings.Contains(unauthorized[0], "token") {
		t.Errorf("the 401 answer %q talks about the token", unauthorized[0])
	}
	// Even a malformed body or a wrong method gets a 401 first.
	if code, _ := getParams(t, srv.URL, "wrong", "{not json"); code != http.StatusUnauthorized {
		t.Errorf("malformed body without the token: %d, want 401", code)
	}
	if calls.Total() != 0 {
		t.Errorf("unauthorized requests reached DynamoDB: %s", calls)
	}
	// The token file ends with a newline: the token is its trimmed content.
	if code, data := getParams(t, srv.URL, testToken, request(nil)); code != http.StatusOK {
		t.Fatalf("with the token: %d %s", code, data)
	}
}

func TestGeneratorParametersAndFilters(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "dev-extra")) // env/dev v2
	publish(t, st, config.GlobalLayer, namespaceEntry(t, "base"), namespaceEntry(t, "base-2"))             // global v2
	s, err := New(baseOptions(t, st))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	code, data := getParams(t, srv.URL, testToken, request(nil))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, data)
	}
	want := []generator.ParamSet{
		{Cluster: "dev-a", Environment: "dev", Region: "eu-west-1", ConfigVersion: "g2.e2.c1",
			Labels: map[string]string{"team": "a", "tier": "gold"}, Vars: map[string]string{"account": "111111111111", "domain": "dev-a.example.com"}},
		{Cluster: "dev-b", Environment: "dev", Region: "us-east-1", ConfigVersion: "g2.e2.c1",
			Labels: map[string]string{"team": "b", "tier": "silver"}, Vars: map[string]string{}},
		{Cluster: "prod-a", Environment: "prod", Region: "eu-west-1", ConfigVersion: "g2.e1.c1",
			Labels: map[string]string{"team": "a", "tier": "gold"}, Vars: map[string]string{"account": "222222222222"}},
		{Cluster: "prod-b", Environment: "prod", Region: "us-east-1", ConfigVersion: "g2.e1.c1",
			Labels: map[string]string{"tier": "silver"}, Vars: map[string]string{}},
	}
	if got := paramSets(t, data); !reflect.DeepEqual(got, want) {
		t.Fatalf("parameters:\n got %+v\nwant %+v", got, want)
	}

	for _, tc := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"no parameters", map[string]any{}, []string{"dev-a", "dev-b", "prod-a", "prod-b"}},
		{"environment", map[string]any{"environment": "prod"}, []string{"prod-a", "prod-b"}},
		{"environments", map[string]any{"environment": []any{"prod", "dev"}}, []string{"dev-a", "dev-b", "prod-a", "prod-b"}},
		{"unknown environment", map[string]any{"environment": "test"}, []string{}},
		{"label selector", map[string]any{"labelSelector": "tier=gold"}, []string{"dev-a", "prod-a"}},
		{"set-based selector", map[string]any{"labelSelector": "tier in (gold,silver),team notin (a)"}, []string{"dev-b", "prod-b"}},
		{"existence selector", map[string]any{"labelSelector": "!team"}, []string{"prod-b"}},
		{"empty selector", map[string]any{"labelSelector": ""}, []string{"dev-a", "dev-b", "prod-a", "prod-b"}},
		{"name pattern", map[string]any{"namePattern": "*-a"}, []string{"dev-a", "prod-a"}},
		{"name patterns", map[string]any{"namePattern": []any{"dev-?", "prod-b"}}, []string{"dev-a", "dev-b", "prod-b"}},
		{"region", map[string]any{"region": "us-east-1"}, []string{"dev-b", "prod-b"}},
		{"all conditions", map[string]any{"environment": "prod", "labelSelector": "tier=gold", "namePattern": "prod-*", "region": "eu-west-1"}, []string{"prod-a"}},
		{"null values", map[string]any{"environment": nil, "namePattern": nil}, []string{"dev-a", "dev-b", "prod-a", "prod-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := getParams(t, srv.URL, testToken, request(tc.params))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, data)
			}
			if got := clusterNames(paramSets(t, data)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("clusters %v, want %v", got, tc.want)
			}
		})
	}

	// Argo CD sends "input": {} when the generator has no parameters.
	if code, data := getParams(t, srv.URL, testToken, `{"applicationSetName":"x","input":{}}`); code != http.StatusOK || len(paramSets(t, data)) != 4 {
		t.Errorf("empty input: %d %s", code, data)
	}
}

func TestGeneratorRejectsBadRequests(t *testing.T) {
	t.Parallel()
	st, calls := newStore(t)
	seed(t, st)
	s, err := New(baseOptions(t, st))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	calls.Reset()
	for _, tc := range []struct {
		name   string
		body   any
		code   int
		fields []string
	}{
		{"malformed JSON", `{"applicationSetName": "a", "input": {`, 400, []string{"body"}},
		{"not an object", `[1,2]`, 400, []string{"body"}},
		{"empty body", ``, 400, []string{"body"}},
		{"trailing data", `{"input":{}} {"input":{}}`, 400, []string{"body"}},
		{"input not an object", `{"applicationSetName":"a","input":[]}`, 400, []string{"input"}},
		{"parameters not an object", `{"applicationSetName":"a","input":{"parameters":"env=dev"}}`, 400, []string{"input.parameters"}},
		{"unknown filter key", request(map[string]any{"env": "dev"}), 400, []string{"input.parameters.env"}},
		{"bad selector", request(map[string]any{"labelSelector": "tier in (gold"}), 400, []string{"input.parameters.labelSelector"}},
		{"selector not a string", request(map[string]any{"labelSelector": map[string]any{"tier": "gold"}}), 400, []string{"input.parameters.labelSelector"}},
		{"environment not a string", request(map[string]any{"environment": 3}), 400, []string{"input.parameters.environment"}},
		{"empty environment", request(map[string]any{"environment": ""}), 400, []string{"input.parameters.environment"}},
		{"bad name pattern", request(map[string]any{"namePattern": "dev-["}), 400, []string{"input.parameters.namePattern"}},
		{"every problem at once", request(map[string]any{"env": "dev", "labelSelector": "=", "region": []any{1}}),
			400, []string{"input.parameters.env", "input.parameters.labelSelector", "input.parameters.region"}},
		{"too large", `{"applicationSetName":"` + strings.Repeat("a", generator.MaxRequestBody) + `"}`, 413, []string{"body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := getParams(t, srv.URL, testToken, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, data)
			}
			var eb generator.ErrorBody
			if err := json.Unmarshal(data, &eb); err != nil {
				t.Fatalf("error answer is not JSON: %s", data)
			}
			var fields []string
			for _, e := range eb.Errors {
				fields = append(fields, e.Field)
				if !strings.Contains(eb.Error, e.Field) {
					t.Errorf("error %q does not name field %s", eb.Error, e.Field)
				}
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("fields %v, want %v (answer %s)", fields, tc.fields, data)
			}
		})
	}
	if calls.Total() != 0 {
		t.Errorf("bad requests reached DynamoDB: %s", calls)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+GetParamsPath, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d (Allow %q), want 405 allowing POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestGeneratorOutputIsStable(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	opts := baseOptions(t, st)
	opts.CacheTTL = 0
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	_, first := getParams(t, srv.URL, testToken, request(nil))
	if got := clusterNames(paramSets(t, first)); !reflect.DeepEqual(got, []string{"dev-a", "dev-b", "prod-a", "prod-b"}) {
		t.Fatalf("order %v: want cluster names sorted (they were registered in reverse)", got)
	}
	for range 5 {
		if _, again := getParams(t, srv.URL, testToken, request(nil)); !bytes.Equal(again, first) {
			t.Fatalf("answers differ:\n%s\n%s", first, again)
		}
	}
	// A registry re-read (another layer moved) serves the same bytes for the same data.
	publish(t, st, config.ClusterLayer("zz-new"), clusterEntry(t, clusterSpec{name: "zz-new", env: "test", region: "eu-west-1"}))
	_, after := getParams(t, srv.URL, testToken, request(map[string]any{"environment": []any{"dev", "prod"}}))
	if !bytes.Equal(after, first) {
		t.Fatalf("after an unrelated publish:\n%s\nwant\n%s", after, first)
	}
	_, all := getParams(t, srv.URL, testToken, request(nil))
	if got := clusterNames(paramSets(t, all)); !reflect.DeepEqual(got, []string{"dev-a", "dev-b", "prod-a", "prod-b", "zz-new"}) {
		t.Fatalf("order %v", got)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestGeneratorCacheCostsPerPoll(t *testing.T) {
	t.Parallel()
	st, calls := newStore(t)
	seed(t, st)
	clock := &fakeClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	opts := baseOptions(t, st)
	opts.CacheTTL = time.Minute
	opts.Now = clock.Now
	s, err := New(opts) // no Run: only requests read DynamoDB here
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	poll := func() string {
		t.Helper()
		return servedVersion(t, srv.URL, "dev-a")
	}
	// The change counter is one BatchGetItem (the counter and an earlier release's, summed);
	// the registry read is two queries in parallel (the registry and the rollout partition).
	expect := func(step string, counter, query int) {
		t.Helper()
		t.Logf("%s: %s", step, calls)
		if calls.Calls("BatchGetItem") != counter || calls.Calls("Query") != query || calls.Total() != counter+query {
			t.Errorf("%s: DynamoDB calls %s, want BatchGetItem=%d Query=%d", step, calls, counter, query)
		}
		calls.Reset()
	}

	calls.Reset()
	if v := poll(); v != "g1.e1.c1" {
		t.Fatalf("served %s", v)
	}
	expect("first request", 1, 2)
	for range 10 {
		poll()
	}
	expect("ten requests within the TTL", 0, 0)

	clock.Add(2 * time.Minute)
	poll()
	poll()
	expect("after the TTL, nothing changed", 1, 0)

	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"), namespaceEntry(t, "more"))
	calls.Reset()
	if v := poll(); v != "g1.e1.c1" {
		t.Errorf("within the TTL the cached snapshot is served, got %s", v)
	}
	expect("within the TTL after a publish", 0, 0)
	clock.Add(2 * time.Minute)
	if v := poll(); v != "g1.e2.c1" {
		t.Errorf("after the TTL: %s, want g1.e2.c1", v)
	}
	expect("after the TTL, the counter moved", 1, 2)

	// Many ApplicationSets polling at once: one check for all.
	clock.Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll()
		}()
	}
	wg.Wait()
	if n := calls.Calls("BatchGetItem"); n < 1 || n > 2 || calls.Calls("Query") != 0 {
		t.Errorf("20 concurrent polls after the TTL: %s, want one BatchGetItem (two at most when they straddle a check)", calls)
	}
}

// flakyStore fails the registry reads on demand, or makes them hang (a DynamoDB that accepts
// the connection and never answers) until their context ends.
type flakyStore struct {
	Store
	mu   sync.Mutex
	fail bool
	hang bool
}

func (f *flakyStore) setHang(hang bool) { f.mu.Lock(); f.hang = hang; f.mu.Unlock() }

func (f *flakyStore) hanging() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.hang }

func (f *flakyStore) set(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }

func (f *flakyStore) failing() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.fail }

func (f *flakyStore) ChangeSeq(ctx context.Context) (int64, error) {
	if f.hanging() {
		<-ctx.Done()
		return 0, fmt.Errorf("dynamodb GetItem: %w", ctx.Err())
	}
	if f.failing() {
		return 0, errors.New("dynamodb GetItem: cannot reach DynamoDB: " + store.ErrUnavailable.Error())
	}
	return f.Store.ChangeSeq(ctx)
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.failing() {
		return store.ErrUnavailable
	}
	return f.Store.Ping(ctx)
}

func TestGeneratorWhenDynamoDBFails(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	flaky := &flakyStore{Store: st, fail: true}
	opts := baseOptions(t, flaky)
	opts.CacheTTL = 0
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// No snapshot yet: 503, never an empty list (which would delete Applications).
	code, data := getParams(t, srv.URL, testToken, request(nil))
	if code != http.StatusServiceUnavailable || strings.Contains(string(data), "parameters") {
		t.Fatalf("without any snapshot: %d %s, want 503 with an error", code, data)
	}
	flaky.set(false)
	_, good := getParams(t, srv.URL, testToken, request(nil))
	flaky.set(true)
	code, data = getParams(t, srv.URL, testToken, request(nil))
	if code != http.StatusOK || !bytes.Equal(data, good) {
		t.Fatalf("during an outage the last snapshot is served: %d %s", code, data)
	}
}

// TestGeneratorAnswersInsideArgoCDsTimeoutWhenDynamoDBHangs: the ApplicationSet controller
// gives up on a plugin generator after its requestTimeout (10 s by default). With a snapshot
// in hand, a hung DynamoDB must not hold the answer that long: the freshness check gives up
// after the freshness budget and the last snapshot is served.
func TestGeneratorAnswersInsideArgoCDsTimeoutWhenDynamoDBHangs(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	hung := &flakyStore{Store: st}
	opts := baseOptions(t, hung)
	opts.CacheTTL = 0 // every request checks the change counter
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	_, good := getParams(t, srv.URL, testToken, request(nil))

	hung.setHang(true)
	defer hung.setHang(false)
	// Half of the controller's requestTimeout: an answer must come well inside it.
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 2 { // the second request joins the check still hanging
		body, _ := json.Marshal(request(nil))
		req, _ := http.NewRequest(http.MethodPost, srv.URL+GetParamsPath, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d while DynamoDB hangs: %v (Argo CD would have given up)", i+1, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(data, good) {
			t.Fatalf("request %d while DynamoDB hangs: %d %s, want the last snapshot", i+1, resp.StatusCode, data)
		}
	}
}

func TestGeneratorAnswerIsGzippedWhenAccepted(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	for i := range 6 { // answers of more than 1 KiB are compressed
		name := fmt.Sprintf("test-%d", i)
		publish(t, st, config.ClusterLayer(name), clusterEntry(t, clusterSpec{name: name, env: "test", region: "eu-west-1"}))
	}
	s, err := New(baseOptions(t, st))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	fetch := func(acceptEncoding string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+GetParamsPath, strings.NewReader(`{"applicationSetName":"a","input":{}}`))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}
	resp, plain := fetch("")
	if resp.Header.Get("Content-Encoding") != "" || len(paramSets(t, plain)) != 10 {
		t.Fatalf("without Accept-Encoding: %q %s", resp.Header.Get("Content-Encoding"), plain)
	}
	resp, zipped := fetch("gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain) {
		t.Errorf("gzipped answer differs:\n%s\n%s", unzipped, plain)
	}
	if resp, _ := fetch("gzip;q=0, identity"); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got %q", resp.Header.Get("Content-Encoding"))
	}
	// Go's client (Argo CD's) asks for gzip and decompresses by itself.
	if code, data := getParams(t, srv.URL, testToken, request(nil)); code != http.StatusOK || !bytes.Equal(data, plain) {
		t.Errorf("through Go's default client: %d %s", code, data)
	}
}
