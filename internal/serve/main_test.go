package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

const (
	testToken     = "s3cret-generator-token-0123456789abcdef"
	testArgoToken = "argo-token"
	testKubeToken = "kube-token"
	// deadline bounds every wait for an asynchronous effect (generous: machines are noisy).
	deadline = 30 * time.Second
)

// testContext ends after two minutes or with the test; entry builds an entry from a raw body.
var (
	testContext = testkit.Context
	entry       = testkit.Entry
)

// testLogger writes the service's log to the test log (shown on failure or with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newStore returns a store on a fresh table of the package's DynamoDB Local and the call
// counter observing it.
func newStore(t testing.TB) (*store.Store, *store.CallCounter) {
	t.Helper()
	return dynamolocal.NewStore(t)
}

func namespaceEntry(t testing.TB, name string) config.Entry {
	return entry(t, config.KindNamespace, map[string]any{"namespace": name, "labels": map[string]any{"team": "platform"}})
}

type clusterSpec struct {
	name, env, region string
	labels, vars      map[string]any
}

func clusterEntry(t testing.TB, c clusterSpec) config.Entry {
	body := map[string]any{"name": c.name, "environment": c.env, "region": c.region}
	if c.labels != nil {
		body["labels"] = c.labels
	}
	if c.vars != nil {
		body["vars"] = c.vars
	}
	return entry(t, config.KindCluster, body)
}

var traceSeq atomic.Int64

// publish publishes entries as the next version of ref and returns the new head.
func publish(t testing.TB, st *store.Store, ref config.LayerRef, entries ...config.Entry) store.Head {
	t.Helper()
	ctx := testContext(t)
	heads, err := st.Heads(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.Publish(ctx, store.PublishInput{Ref: ref, Entries: entries, Base: heads[ref].Version, Actor: "tester",
		Message: "test publish", TraceID: fmt.Sprintf("trace%012d", traceSeq.Add(1))})
	if err != nil {
		t.Fatalf("publish %s: %v", ref, err)
	}
	return h
}

// The test fleet: two environments, four clusters.
var fleet = []clusterSpec{
	{name: "dev-a", env: "dev", region: "eu-west-1", labels: map[string]any{"tier": "gold", "team": "a"}, vars: map[string]any{"account": "111111111111", "domain": "dev-a.example.com"}},
	{name: "dev-b", env: "dev", region: "us-east-1", labels: map[string]any{"tier": "silver", "team": "b"}},
	{name: "prod-a", env: "prod", region: "eu-west-1", labels: map[string]any{"tier": "gold", "team": "a"}, vars: map[string]any{"account": "222222222222"}},
	{name: "prod-b", env: "prod", region: "us-east-1", labels: map[string]any{"tier": "silver"}},
}

// seed publishes global v1, env/dev v1, env/prod v1 and the clusters (each v1), clusters in
// reverse name order (output order must not depend on it).
func seed(t testing.TB, st *store.Store) {
	t.Helper()
	publish(t, st, config.GlobalLayer, namespaceEntry(t, "base"))
	publish(t, st, config.EnvLayer("dev"), namespaceEntry(t, "dev-tools"))
	publish(t, st, config.EnvLayer("prod"), namespaceEntry(t, "prod-tools"))
	for i := len(fleet) - 1; i >= 0; i-- {
		publish(t, st, config.ClusterLayer(fleet[i].name), clusterEntry(t, fleet[i]), namespaceEntry(t, "apps"))
	}
}

// baseOptions are options for a test server on st: short intervals, no integrations.
func baseOptions(t testing.TB, st Store) Options {
	return Options{
		Store: st, Logger: testLogger(t), GeneratorToken: secret.Static(testToken),
		CacheTTL: 20 * time.Millisecond, PollInterval: 50 * time.Millisecond, StatusInterval: 50 * time.Millisecond,
		ReannotateAfter: -1, ShutdownTimeout: 5 * time.Second, Replica: "test",
	}
}

// fastHTTP are outbound bounds for tests: quick retries.
var fastHTTP = outbound.HTTPOptions{Timeout: 2 * time.Second, RetryMax: 3, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond}

// runServer starts the service on a loopback port and returns its base URL; it is stopped
// when the test ends.
func runServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	s, api, _ := runServers(t, opts)
	return s, api
}

// listen returns a listener on a free loopback port.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// runServers is runServer that also returns the base URL of the operations listener (health,
// readiness, metrics).
func runServers(t testing.TB, opts Options) (s *Server, api, ops string) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, opsLn := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln, opsLn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(deadline):
			t.Error("the server did not stop")
		}
	})
	return s, "http://" + ln.Addr().String(), "http://" + opsLn.Addr().String()
}

// getParams posts a generator request as Argo CD's plugin generator does.
func getParams(t testing.TB, base, token string, body any) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	switch b := body.(type) {
	case string:
		buf.WriteString(b)
	case []byte:
		buf.Write(b)
	default:
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, base+GetParamsPath, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "argocd-applicationset")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// request is the body Argo CD's plugin generator sends.
func request(params map[string]any) map[string]any {
	in := map[string]any{}
	if params != nil {
		in["parameters"] = params
	}
	return map[string]any{"applicationSetName": "test-appset", "input": in}
}

// paramSets decodes a generator answer the way Argo CD's plugin service does.
func paramSets(t testing.TB, data []byte) []generator.ParamSet {
	t.Helper()
	var resp struct {
		Output struct {
			Parameters []generator.ParamSet `json:"parameters"`
		} `json:"output"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	if resp.Output.Parameters == nil {
		t.Fatalf("answer %s has no parameters list", data)
	}
	return resp.Output.Parameters
}

func clusterNames(sets []generator.ParamSet) []string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.Cluster
	}
	return out
}

// servedVersion returns the configVersion the generator serves for cluster ("" if absent).
func servedVersion(t testing.TB, base, cluster string) string {
	t.Helper()
	code, data := getParams(t, base, testToken, request(nil))
	if code != http.StatusOK {
		t.Fatalf("generator answered %d: %s", code, data)
	}
	for _, p := range paramSets(t, data) {
		if p.Cluster == cluster {
			return p.ConfigVersion
		}
	}
	return ""
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fault is an injected failure: answer code, or hang for delay first (then answer code, or
// go on normally when code is 0).
type fault struct {
	code  int
	delay time.Duration
}

type faults struct {
	mu  sync.Mutex
	seq []fault
}

func (f *faults) push(fs ...fault) {
	f.mu.Lock()
	f.seq = append(f.seq, fs...)
	f.mu.Unlock()
}

// apply consumes the next fault; it reports whether the request was answered.
func (f *faults) apply(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	if len(f.seq) == 0 {
		f.mu.Unlock()
		return false
	}
	x := f.seq[0]
	f.seq = f.seq[1:]
	f.mu.Unlock()
	if x.delay > 0 {
		select {
		case <-time.After(x.delay):
		case <-r.Context().Done():
			return true
		}
	}
	if x.code == 0 {
		return false
	}
	if x.code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	http.Error(w, `{"error":"injected"}`, x.code)
	return true
}

// --- fake Argo CD API server ---

type fakeArgo struct {
	faults
	srv *httptest.Server

	mu        sync.Mutex
	apps      map[string]*argocdtest.App
	refreshes []string // "<namespace>/<name>" of each answered hard refresh
	syncs     []string // "<namespace>/<name>" of each accepted sync request
	// syncBodies are the bodies of the accepted sync requests.
	syncBodies []map[string]any
	// busy is the number of sync requests still to refuse as Argo CD does while an
	// operation runs.
	busy     int
	lists    int
	attempts int
	// terminated are the "<namespace>/<name>" of each operation ended through the API.
	terminated []string
}

func newFakeArgo(t testing.TB, apps ...*argocdtest.App) *fakeArgo {
	f := &fakeArgo{apps: map[string]*argocdtest.App{}}
	for _, a := range apps {
		f.apps[a.Name] = a
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeArgo) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.attempts++
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testArgoToken {
		http.Error(w, `{"error":"no session information"}`, http.StatusUnauthorized)
		return
	}
	if f.apply(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/applications":
		f.lists++
		items := []any{}
		for _, a := range f.apps {
			items = append(items, a.JSON())
		}
		writeJSON(w, map[string]any{"metadata": map[string]any{}, "items": items})
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/applications/") && strings.HasSuffix(r.URL.Path, "/sync"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/applications/"), "/sync")
		a, ok := f.apps[name]
		if !ok {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["name"] != a.Name || body["appNamespace"] != a.Namespace {
			http.Error(w, `{"error":"bad sync request"}`, http.StatusBadRequest)
			return
		}
		if f.busy > 0 {
			// Argo CD's answer (gRPC FailedPrecondition through the gateway) while a sync runs.
			f.busy--
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"another operation is already in progress","code":9,"message":"another operation is already in progress"}`))
			return
		}
		f.syncs = append(f.syncs, a.Namespace+"/"+a.Name)
		f.syncBodies = append(f.syncBodies, body)
		writeJSON(w, a.JSON())
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/v1/applications/") && strings.HasSuffix(r.URL.Path, "/operation"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/applications/"), "/operation")
		a, ok := f.apps[name]
		if !ok || r.URL.Query().Get("appNamespace") != a.Namespace {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "Invalid content type", http.StatusUnsupportedMediaType) // as argocd-server answers
			return
		}
		if a.OpPhase != "Running" {
			// Argo CD's answer (gRPC InvalidArgument through the gateway).
			http.Error(w, `{"error":"Unable to terminate operation. No operation is in progress","code":3}`, http.StatusBadRequest)
			return
		}
		f.terminated = append(f.terminated, a.Namespace+"/"+a.Name)
		a.OpPhase, a.OpMessage, a.OpRetries = "Failed", "Operation terminated", 0
		writeJSON(w, map[string]any{})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/applications/"):
		name := strings.TrimPrefix(r.URL.Path, "/api/v1/applications/")
		a, ok := f.apps[name]
		if !ok || (r.URL.Query().Get("appNamespace") != "" && r.URL.Query().Get("appNamespace") != a.Namespace) {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		if r.URL.Query().Get("refresh") == "hard" {
			f.refreshes = append(f.refreshes, a.Namespace+"/"+a.Name)
		}
		writeJSON(w, a.JSON())
	default:
		http.Error(w, `{"error":"unexpected"}`, http.StatusNotFound)
	}
}

// update changes an Application as Argo CD's controllers would.
func (f *fakeArgo) update(name string, fn func(a *argocdtest.App)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.apps[name])
}

// waitLists waits until the Applications were listed n more times.
func (f *fakeArgo) waitLists(t testing.TB, n int) {
	t.Helper()
	f.mu.Lock()
	want := f.lists + n
	f.mu.Unlock()
	eventually(t, fmt.Sprintf("%d more Application lists", n), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.lists >= want
	})
}

func (f *fakeArgo) refreshed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refreshes...)
}

func (f *fakeArgo) synced() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.syncs...)
}

func (f *fakeArgo) options() *argocd.Options {
	return &argocd.Options{URL: f.srv.URL, AllowInsecureHTTP: true, Token: secret.Static(testArgoToken), HTTP: fastHTTP, RefreshTimeout: 2 * time.Second}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// --- fake webhook receiver ---

type fakeHook struct {
	faults
	srv *httptest.Server

	mu       sync.Mutex
	acked    []event.Event // events answered 2xx, in order
	attempts int
	// block, when set, holds every request until it is closed.
	block    chan struct{}
	inflight atomic.Int32
	// lostAnswers is the number of events to record and then answer too late (the sender
	// times out and sends them again: at-least-once).
	lostAnswers int
}

func newFakeHook(t testing.TB) *fakeHook {
	f := &fakeHook{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHook) serve(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	// The body is read before any hang: only then does Go's server watch the connection and
	// end r.Context() when the sender gives up. Unread, a hang of 5 s outlived the sender's
	// timeout unnoticed, and the receiver then took the abandoned request as a delivery (a
	// duplicate, whenever the test ran longer than the hang).
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.attempts++
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	if f.apply(w, r) {
		return
	}
	var ev event.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || r.Header.Get("X-Dynamo-Cmp-Event-Id") != ev.ID {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.acked = append(f.acked, ev)
	lose := f.lostAnswers > 0
	if lose {
		f.lostAnswers--
	}
	f.mu.Unlock()
	if lose {
		<-r.Context().Done()
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeHook) events() []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event.Event(nil), f.acked...)
}

// find returns the first acknowledged event matching.
func (f *fakeHook) find(match func(event.Event) bool) (event.Event, bool) {
	for _, ev := range f.events() {
		if match(ev) {
			return ev, true
		}
	}
	return event.Event{}, false
}

func (f *fakeHook) wait(t testing.TB, what string, match func(event.Event) bool) event.Event {
	t.Helper()
	var ev event.Event
	eventually(t, what, func() bool {
		var ok bool
		ev, ok = f.find(match)
		return ok
	})
	return ev
}

func (f *fakeHook) options() *notify.WebhookOptions {
	return &notify.WebhookOptions{URL: f.srv.URL + "/events", AllowInsecureHTTP: true, HTTP: fastHTTP}
}

// --- fake Kubernetes API server (TLS, bearer token) ---

type patchRecord struct {
	namespace, name, contentType, body string
}

type fakeKube struct {
	srv    *httptest.Server
	caFile string

	mu      sync.Mutex
	sets    map[string][]map[string]any // by namespace
	patches []patchRecord
	lists   map[string]int
	// rounds are the patches grouped by the list that preceded them: the annotator lists the
	// ApplicationSets of its one namespace at the start of every round, so round i+1 having
	// begun means round i is complete.
	rounds [][]patchRecord
	// apply: patches change the annotations of the stored ApplicationSets, as the API server
	// does (no controller removes the refresh annotation: it stays, as after a failed
	// reconcile); wakes counts, by "<namespace>/<name>", the patches that made the refresh
	// annotation appear, which is what the ApplicationSet controller reconciles on.
	apply bool
	wakes map[string]int
}

func newFakeKube(t testing.TB) *fakeKube {
	f := &fakeKube{sets: map[string][]map[string]any{}, lists: map[string]int{}, wakes: map[string]int{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

const appSetPrefix = "/apis/argoproj.io/v1alpha1/namespaces/"

func (f *fakeKube) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testKubeToken {
		http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, appSetPrefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || parts[1] != "applicationsets" {
		http.Error(w, `{"kind":"Status","code":404}`, http.StatusNotFound)
		return
	}
	ns := parts[0]
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		f.lists[ns]++
		f.rounds = append(f.rounds, nil)
		items := f.sets[ns]
		if items == nil {
			items = []map[string]any{}
		}
		writeJSON(w, map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSetList", "metadata": map[string]any{"resourceVersion": "1"}, "items": items})
	case r.Method == http.MethodPatch && len(parts) == 3:
		body, _ := io.ReadAll(r.Body)
		rec := patchRecord{namespace: ns, name: parts[2], contentType: r.Header.Get("Content-Type"), body: string(body)}
		f.patches = append(f.patches, rec)
		if len(f.rounds) > 0 {
			f.rounds[len(f.rounds)-1] = append(f.rounds[len(f.rounds)-1], rec)
		}
		for _, s := range f.sets[ns] {
			if md := s["metadata"].(map[string]any); md["name"] == parts[2] {
				if f.apply {
					f.applyAnnotations(ns, md, body)
				}
				writeJSON(w, s)
				return
			}
		}
		http.Error(w, `{"kind":"Status","code":404}`, http.StatusNotFound)
	default:
		http.Error(w, `{"kind":"Status","code":405}`, http.StatusMethodNotAllowed)
	}
}

// applyAnnotations applies the annotations of a JSON merge patch to md (f.mu held).
func (f *fakeKube) applyAnnotations(ns string, md map[string]any, body []byte) {
	var p struct {
		Metadata struct {
			Annotations map[string]*string `json:"annotations"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &p) != nil {
		return
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	_, had := ann[kube.RefreshAnnotation]
	for k, v := range p.Metadata.Annotations {
		if v == nil {
			delete(ann, k)
		} else {
			ann[k] = *v
		}
	}
	if _, has := ann[kube.RefreshAnnotation]; has && !had {
		f.wakes[ns+"/"+md["name"].(string)]++
	}
	md["annotations"] = ann
}

// woken is how often the refresh annotation appeared on the ApplicationSet ns/name.
func (f *fakeKube) woken(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wakes[key]
}

// annotate sets an annotation on a stored ApplicationSet.
func (f *fakeKube) annotate(ns, name, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sets[ns] {
		if md := s["metadata"].(map[string]any); md["name"] == name {
			md["annotations"] = map[string]any{key: value}
		}
	}
}

func (f *fakeKube) add(ns, name string, generators ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[ns] = append(f.sets[ns], map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec":     map[string]any{"goTemplate": true, "generators": generators, "template": map[string]any{}},
	})
}

func (f *fakeKube) patched() []patchRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]patchRecord(nil), f.patches...)
}

// round returns the patches of round i once round i+1 has begun (the annotator's rounds run
// one after another), failing the test if it does not.
func (f *fakeKube) round(t testing.TB, i int) []patchRecord {
	t.Helper()
	eventually(t, fmt.Sprintf("ApplicationSet round %d to begin", i+1), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.rounds) > i+1
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]patchRecord(nil), f.rounds[i]...)
}

// patchCount is how many patches ApplicationSet ns/name received.
func (f *fakeKube) patchCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.patches {
		if p.namespace+"/"+p.name == key {
			n++
		}
	}
	return n
}

func (f *fakeKube) reset() {
	f.mu.Lock()
	f.patches = nil
	f.mu.Unlock()
}

func (f *fakeKube) options(t testing.TB) *kube.Options {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testKubeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &kube.Options{URL: f.srv.URL, Token: secret.NewFile(tokenFile), CAFile: f.caFile, Namespaces: []string{"argocd"}, HTTP: fastHTTP}
}

// pluginGen is a plugin generator naming configMap, with input parameters (nil: none);
// listGen is a list generator.
var (
	pluginGen = argocdtest.PluginGenerator
	listGen   = argocdtest.ListGenerator
)
