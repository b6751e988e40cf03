package cli_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// sourceRegistry runs go-containerregistry's registry on 127.0.0.1 (free port), needing
// Basic auth ci:pw.
func sourceRegistry(t *testing.T) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestSourcePush(t *testing.T) {
	host := sourceRegistry(t)
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ci:pw"))
	writeFile(t, filepath.Join(dir, "config.json"), fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth))
	env := cli.Env{"DOCKER_CONFIG": dir}
	ref := "oci://" + host + "/platform/dynamo-cmp-source:v1"

	r := run(t, env, "source", "push", ref, "--plain-http")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`^pushed oci://` + regexp.QuoteMeta(host) + `/platform/dynamo-cmp-source:v1@sha256:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Errorf("stdout %q: want the reference and the digest pushed", r.stdout)
	}

	t.Run("credentials from HOME/.docker", func(t *testing.T) {
		home := t.TempDir()
		if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(home, ".docker", "config.json"), readFile(t, filepath.Join(dir, "config.json")))
		if r := run(t, cli.Env{"HOME": home}, "source", "push", ref, "--plain-http"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})

	for _, tc := range []struct {
		name string
		env  cli.Env
		args []string
		code int
		want []string
	}{
		{"no credentials", cli.Env{}, []string{ref, "--plain-http"}, 3, []string{host, "platform/dynamo-cmp-source"}},
		{"not oci://", env, []string{host + "/a:v1", "--plain-http"}, 2, []string{"must start with oci://"}},
		{"no tag", env, []string{"oci://" + host + "/a", "--plain-http"}, 2, []string{"no tag"}},
		{"plain http off loopback", env, []string{"oci://registry.example.com/a:v1", "--plain-http"}, 2, []string{"only for a registry on loopback"}},
		{"no argument", env, nil, 2, []string{"accepts 1 arg"}},
		// Issue 18 §5: the registry speaks plain HTTP and --plain-http was not given.
		{"registry speaks plain HTTP", env, []string{ref}, 2, []string{"answered plain HTTP to an HTTPS request: add --plain-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, append([]string{"source", "push"}, tc.args...)...)
			if r.code != tc.code || r.stdout != "" {
				t.Errorf("exit %d, stdout %q; want exit %d and no output", r.code, r.stdout, tc.code)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("stderr should be one line:\n%s", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "pw") && !strings.Contains(tc.name, "tag") {
				t.Errorf("stderr may show the password: %s", r.stderr)
			}
		})
	}
}
