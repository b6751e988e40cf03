package outbound_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

var quick = outbound.HTTPOptions{Timeout: 2 * time.Second, RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond}

// A busy or briefly failing API (503, 429) is asked again, and the call succeeds once it
// answers; the metrics count every attempt and retry of the target.
func TestCallRetriesWhatARetryCanFix(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			_, _ = w.Write([]byte(`{"name":"dev-a"}`))
		}
	}))
	defer srv.Close()
	m := outbound.NewMetrics(prometheus.NewRegistry(), "test")
	client := outbound.NewClient(outbound.TargetArgoCD, quick, nil, m, slog.New(slog.DiscardHandler))
	var out struct{ Name string }
	err := outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: srv.URL + "/api/v1/applications/dev-a", Path: "/api/v1/applications/dev-a"}.
		Do(context.Background(), client, &out)
	if err != nil || out.Name != "dev-a" {
		t.Fatalf("Do: %+v, %v; want the third answer decoded", out, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	var retries dto.Metric
	if err := m.Retries.WithLabelValues(outbound.TargetArgoCD).Write(&retries); err != nil {
		t.Fatal(err)
	}
	if n := retries.GetCounter().GetValue(); n != 2 {
		t.Errorf("retries counted: %v, want 2", n)
	}
}

// A refusal (4xx) is not retried: the error names the target, the call and the status, with
// the start of the answer on one line — never the token.
func TestCallReportsARefusalOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "permission denied:\n\taction get on applications/dev-a\n"+strings.Repeat("x", 500), http.StatusForbidden)
	}))
	defer srv.Close()
	client := outbound.NewClient(outbound.TargetArgoCD, quick, nil, outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
	const tok = "argocd-api-token-0123456789"
	err := outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: srv.URL + "/api/v1/applications/dev-a?refresh=hard",
		Path: "/api/v1/applications/dev-a", Token: secret.Static(tok)}.Do(context.Background(), client, nil)
	var se *outbound.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("Do: %v, want a *StatusError 403", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "argocd GET /api/v1/applications/dev-a: HTTP 403: permission denied: action get on applications/dev-a") ||
		strings.Contains(msg, "\n") || len(msg) > 300 || strings.Contains(msg, tok) {
		t.Errorf("error %q: want target, call and status, then the answer's start on one line, no token", msg)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a 403 was asked %d times, want once", n)
	}
}

// An unreadable token fails the call before anything is sent.
func TestCallWithoutItsToken(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	client := outbound.NewClient(outbound.TargetKube, quick, nil, outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
	err := outbound.Call{Target: outbound.TargetKube, Method: http.MethodGet, URL: srv.URL, Path: "/apis",
		Token: secret.NewFile(t.TempDir() + "/missing-token")}.Do(context.Background(), client, nil)
	if err == nil || !strings.Contains(err.Error(), "kubernetes token") || !strings.Contains(err.Error(), "missing-token") {
		t.Errorf("Do with an unreadable token file: %v, want an error naming the target's token and the file", err)
	}
	if calls.Load() != 0 {
		t.Error("the request was sent without its token")
	}
}
