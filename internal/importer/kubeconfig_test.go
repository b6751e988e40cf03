package importer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A kubeconfig user or cluster whose credentials import cannot honour is refused by name, before
// any connection: without it import would reach the API server anonymously and report a 401 (or,
// worse, read what anonymous users may read).
func TestKubeconfigRefusesWhatItCannotHonour(t *testing.T) {
	for _, tc := range []struct{ name, cluster, user, want string }{
		{"auth-provider", "", "auth-provider:\n      name: oidc\n      config: {client-id: x}", "auth-provider is not supported"},
		{"basic auth", "", "username: admin\n    password: hunter2", "basic auth (username) is not supported"},
		{"impersonation", "", "token: t\n    as: system:admin", "impersonation (as) is not supported"},
		{"proxy-url", "\n    proxy-url: http://127.0.0.1:3128", "token: t", "proxy-url is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1" + tc.cluster +
				"\nusers:\n- name: u\n  user:\n    " + tc.user + "\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := LoadKubeconfig(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.client("ctx")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "context ctx") {
				t.Fatalf("client(ctx) = %v, want an error naming the context and %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error prints the password: %v", err)
			}
		})
	}
}

// A redirect is the answer, never followed with the kubeconfig's token (the rule every
// outbound client of the project keeps): a 307 to another port of the same host got the
// token before import used the project's outbound client.
func TestKubeconfigClientFollowsNoRedirect(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	path := filepath.Join(t.TempDir(), "config")
	cfg := "clusters:\n- name: c\n  cluster: {server: " + api.URL + "}\nusers:\n- name: u\n  user: {token: s3cret}\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKubeconfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := k.client("ctx")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	err = c.get(context.Background(), "/api", &out)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTemporaryRedirect {
		t.Errorf("get through a redirect = %v, want the 307 as a StatusError", err)
	}
	if leaked.Load() {
		t.Error("the token was sent on to the redirect's target")
	}
}
