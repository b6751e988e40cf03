package serve

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// TestHealthAndMetricsHaveTheirOwnPort (issue 20, item 6): /metrics names every cluster with
// its version and health; it and the health endpoints answer on the operations listener
// only, GET and HEAD only, and the API listener serves the generator alone.
func TestHealthAndMetricsHaveTheirOwnPort(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	_, api, ops := runServers(t, baseOptions(t, st))
	do := func(method, url string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Allow")
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, _ := do(http.MethodGet, api+path); code != http.StatusNotFound {
			t.Errorf("GET %s on the API listener: %d, want 404", path, code)
		}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			if code, _ := do(m, ops+path); code != http.StatusOK {
				t.Errorf("%s %s: %d, want 200", m, path, code)
			}
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if code, allow := do(m, ops+path); code != http.StatusMethodNotAllowed || allow != "GET, HEAD" {
				t.Errorf("%s %s: %d (Allow %q), want 405 (Allow \"GET, HEAD\")", m, path, code, allow)
			}
		}
	}
	if code, _ := getParams(t, ops, testToken, request(nil)); code != http.StatusNotFound {
		t.Errorf("the generator on the operations listener: %d, want 404", code)
	}
	if code, _ := getParams(t, api, testToken, request(nil)); code != http.StatusOK {
		t.Errorf("the generator on the API listener: %d, want 200", code)
	}
}

// TestGeneratorTokens: a token under 32 bytes is refused at start, and during a rotation the
// previous token is accepted beside the current one until its value goes.
func TestGeneratorTokens(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	seed(t, st)
	short := baseOptions(t, st)
	short.GeneratorToken = secret.Static("s3cret-generator-token")
	if _, err := New(short); err == nil || !strings.Contains(err.Error(), "22 bytes: use at least 32") {
		t.Errorf("a 22-byte token: %v, want a refusal", err)
	}

	const previous = "previous-generator-token-0123456789abcdef"
	rotating := &settable{}
	rotating.set(previous)
	opts := baseOptions(t, st)
	opts.PreviousGeneratorToken = rotating
	_, api := runServer(t, opts)
	for _, tok := range []string{testToken, previous} {
		if code, _ := getParams(t, api, tok, request(nil)); code != http.StatusOK {
			t.Errorf("token %.12s…: %d, want 200", tok, code)
		}
	}
	if code, _ := getParams(t, api, "another-token-0123456789abcdef-0123456789", request(nil)); code != http.StatusUnauthorized {
		t.Errorf("another token: %d, want 401", code)
	}
	rotating.set("") // the rotation window ends
	if code, _ := getParams(t, api, previous, request(nil)); code != http.StatusUnauthorized {
		t.Errorf("the previous token after the rotation: %d, want 401", code)
	}
	rotating.set("too-short-to-accept")
	if code, _ := getParams(t, api, "too-short-to-accept", request(nil)); code != http.StatusUnauthorized {
		t.Errorf("a short previous token: %d, want 401", code)
	}
	if code, _ := getParams(t, api, testToken, request(nil)); code != http.StatusOK {
		t.Errorf("the current token: %d, want 200", code)
	}
}

// settable is a secret whose value a test changes, as a rotated file would.
type settable struct {
	mu  sync.Mutex
	val string
}

func (s *settable) set(v string) { s.mu.Lock(); s.val = v; s.mu.Unlock() }

func (s *settable) Value() (string, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.val, nil }
