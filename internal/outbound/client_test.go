package outbound_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// recorder is a loopback server that records what reaches it.
type recorder struct {
	mu       sync.Mutex
	requests []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path+" auth="+req.Header.Get("Authorization")+" body="+string(body))
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// TestRedirectsAreNotFollowed (issue 20, item 6): a 307 to the same host on another port made
// the client send the body and the bearer token there. An outbound call never follows a
// redirect: the redirect is the answer, an error naming it.
func TestRedirectsAreNotFollowed(t *testing.T) {
	elsewhere := &recorder{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound, http.StatusMovedPermanently} {
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/collect", code)
		}))
		client := outbound.NewClient(outbound.TargetWebhook, outbound.HTTPOptions{Timeout: 2 * time.Second, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond},
			nil, outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
		err := outbound.Call{Target: outbound.TargetWebhook, Method: http.MethodPost, URL: origin.URL + "/hook", Path: "(webhook)",
			Token: secret.Static("bearer-token-that-must-stay-home"), Body: []byte(`{"event":"private"}`)}.Do(context.Background(), client, nil)
		origin.Close()
		var se *outbound.StatusError
		if !errors.As(err, &se) || se.Code != code || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("%d: want a *StatusError %d saying the redirect was not followed, got %v", code, code, err)
		}
		if seen := elsewhere.seen(); len(seen) > 0 {
			t.Fatalf("%d: the redirect was followed: %q", code, seen)
		}
	}
}

// TestCheckURL: the webhook and the Argo CD API are reached over https; plain http only when
// it is explicitly allowed.
func TestCheckURL(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		want      string // "" when accepted
	}{
		{"https://portal.example.com/hooks/dynamo-cmp", false, ""},
		{"https://argocd-server.argocd.svc", false, ""},
		{"http://argocd-server.argocd.svc", false, "uses plain http"},
		{"http://argocd-server.argocd.svc", true, ""},
		{"ftp://portal.example.com", true, "the scheme must be https"},
		{"portal.example.com/hook", false, "the scheme must be https"},
		{"https:///hook", false, "has no host"},
		{"https://user:password@portal.example.com/hook", false, "carries user information"},
	}
	for _, tt := range tests {
		err := outbound.CheckURL(tt.url, tt.allowHTTP)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s (allow http %v): %v", tt.url, tt.allowHTTP, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s (allow http %v): %v, want %q", tt.url, tt.allowHTTP, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "password"):
			t.Errorf("%s: the error repeats the password: %v", tt.url, err)
		}
	}
}
