package argocd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// listServer answers GET /api/v1/applications with n Applications of the plugin, padded so
// that the answer is about size bytes, and records the selectors asked for.
func listServer(t *testing.T, n, size int) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var selectors []string
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = (&argocdtest.App{Namespace: "argocd", Name: fmt.Sprintf("c%04d-bootstrap", i), Cluster: fmt.Sprintf("c%04d", i),
			Pinned: "g1.e1.c1", Compared: "g1.e1.c1", Sync: "Synced", Health: "Healthy"}).JSON()
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{}, "items": items})
	if err != nil {
		t.Fatal(err)
	}
	if pad := size - len(body); pad > 0 {
		// White space after the value: the size grows, the Applications stay the same.
		body = append(body, bytes.Repeat([]byte(" "), pad)...)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		selectors = append(selectors, r.URL.Query().Get("selector"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &selectors
}

func newClient(t *testing.T, url string, maxList int64) *argocd.Client {
	t.Helper()
	c, err := argocd.New(argocd.Options{URL: url, AllowInsecureHTTP: true, Token: secret.Static("tok"), MaxListBytes: maxList,
		HTTP: outbound.HTTPOptions{Timeout: 5 * time.Second}}, outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestListOverTheLimit: an answer to the Application list longer than the limit is refused
// as a whole — the error names the limit and the flag that raises it, and the reader
// publishes no reading (so nothing is judged on a cut list) and counts the failed reading —
// while the same Applications in an answer of exactly the limit are all read.
func TestListOverTheLimit(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name string
		size int
		fail bool
	}{
		{"exactly the limit", limit, false},
		{"one byte over", limit + 1, true},
		{"twice the limit", 2 * limit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := listServer(t, 200, tc.size)
			c := newClient(t, srv.URL, limit)
			reg := prometheus.NewRegistry()
			m := argocd.NewReaderMetrics(reg, "test")
			rd, err := argocd.NewReader(argocd.ReaderOptions{List: c.List, PluginName: argocdtest.PluginName, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			reading, err := rd.ReadSince(context.Background(), time.Time{})
			if !tc.fail {
				if err != nil || reading.Applications() != 200 {
					t.Fatalf("read %v, %v; want 200 Applications", reading, err)
				}
				return
			}
			var tooLarge *outbound.TooLargeError
			if !errors.As(err, &tooLarge) || tooLarge.Limit != limit {
				t.Fatalf("error %v, want an *outbound.TooLargeError of %d bytes", err, limit)
			}
			for _, want := range []string{"larger than the limit of 1 MiB", "--argocd-max-list-size", "/api/v1/applications"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if reading != nil {
				t.Errorf("a reading of %d Applications was published from a refused answer", reading.Applications())
			}
			if n := metricValue(t, reg, "test_argocd_application_readings_total", "all", "error"); n != 1 {
				t.Errorf("argocd_application_readings_total{outcome=error} = %v, want 1", n)
			}
		})
	}
}

// fakeLister is the Argo CD API of the reader's tests: the Applications, each with its labels,
// and the selectors asked for. A selector is honoured as argocd-server does for the one
// shape used here (key=value).
type fakeLister struct {
	mu        sync.Mutex
	apps      []argocd.Application
	selectors []string
}

func (f *fakeLister) list(_ context.Context, selector string) ([]argocd.Application, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.selectors = append(f.selectors, selector)
	k, v, _ := strings.Cut(selector, "=")
	var out []argocd.Application
	for _, a := range f.apps {
		if selector == "" || a.Metadata.Labels[k] == v {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeLister) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.selectors
	f.selectors = nil
	return out
}

func labelled(t *testing.T, cluster string, managed bool) argocd.Application {
	app := *(&argocdtest.App{Namespace: "argocd", Name: cluster + "-bootstrap", Cluster: cluster, Pinned: "g1.e1.c1"}).Application(t)
	if managed {
		app.Metadata.Labels = map[string]string{"app.kubernetes.io/managed-by": "dynamo-cmp"}
	}
	return app
}

// TestReaderCensus: serve reads only the labelled Applications, but an Application of the
// plugin without the label is never lost: the first reading and one every census interval
// list every Application, and while the plugin has unlabelled Applications every reading
// does, with a warning naming one and the metric counting them.
func TestReaderCensus(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := &fakeLister{apps: []argocd.Application{labelled(t, "dev-a", true), labelled(t, "dev-b", false)}}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	m := argocd.NewReaderMetrics(reg, "test")
	rd, err := argocd.NewReader(argocd.ReaderOptions{List: f.list, PluginName: argocdtest.PluginName, Selector: argocd.DefaultSelector,
		CensusInterval: time.Minute, Now: clock, Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	read := func() *argocd.Reading {
		t.Helper()
		now = now.Add(5 * time.Second)
		r, err := rd.ReadSince(context.Background(), now.Add(-time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	clusters := func(r *argocd.Reading) string {
		var out []string
		for _, c := range []string{"dev-a", "dev-b"} {
			if len(r.ByCluster[c]) > 0 {
				out = append(out, c)
			}
		}
		return strings.Join(out, ",")
	}

	// dev-b lacks the label: every reading lists every Application, and says why.
	for i := range 3 {
		if r := read(); clusters(r) != "dev-a,dev-b" {
			t.Fatalf("reading %d holds %q, want both clusters", i+1, clusters(r))
		}
	}
	if got := f.asked(); strings.Join(got, "|") != "||" {
		t.Errorf("selectors asked %q, want every Application three times", got)
	}
	if n := metricValue(t, reg, "test_argocd_applications_unselected"); n != 1 {
		t.Errorf("argocd_applications_unselected = %v, want 1", n)
	}
	if s := logs.String(); strings.Count(s, "lack the label") != 1 || !strings.Contains(s, "argocd/dev-b-bootstrap") {
		t.Errorf("log %q: want one warning naming argocd/dev-b-bootstrap", s)
	}

	// Labelled: the next reading (a census) finds none missing; then only the selected ones
	// are listed, until the census interval has passed.
	f.apps[1] = labelled(t, "dev-b", true)
	read()
	for range 3 {
		if r := read(); clusters(r) != "dev-a,dev-b" {
			t.Fatalf("reading holds %q, want both clusters", clusters(r))
		}
	}
	if got := f.asked(); strings.Join(got, "|") != strings.Repeat("|"+argocd.DefaultSelector, 3) {
		t.Errorf("selectors asked %q, want one census then the selector three times", got)
	}
	if n := metricValue(t, reg, "test_argocd_applications_unselected"); n != 0 {
		t.Errorf("argocd_applications_unselected = %v, want 0", n)
	}
	now = now.Add(time.Minute)
	read()
	if got := f.asked(); len(got) != 1 || got[0] != "" {
		t.Errorf("after the census interval asked %q, want a census", got)
	}
}

// TestReaderShares: a reading started after the time asked for serves every caller; an
// older one does not.
func TestReaderShares(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	f := &fakeLister{apps: []argocd.Application{labelled(t, "dev-a", true)}}
	rd, err := argocd.NewReader(argocd.ReaderOptions{List: f.list, PluginName: argocdtest.PluginName, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, _ := rd.ReadSince(ctx, time.Time{})
	if again, _ := rd.ReadSince(ctx, now.Add(-time.Second)); again != first {
		t.Error("a reading started after the time asked for was not reused")
	}
	if n := len(f.asked()); n != 1 {
		t.Errorf("%d list calls, want 1", n)
	}
	now = now.Add(time.Second)
	if next, _ := rd.ReadSince(ctx, now.Add(-time.Millisecond)); next == first || !next.At.Equal(now) {
		t.Errorf("a change seen after the last reading got reading %v, want a new one", next.At)
	}
}

// metricValue is the value of the series of name whose label values are values, in order.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i, l := range m.GetLabel() {
				if i >= len(values) || l.GetValue() != values[i] {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
