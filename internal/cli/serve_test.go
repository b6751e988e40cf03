package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// TestServeRefusesWeakSettings (issue 20, item 6): serve refuses, as a usage error (exit 2)
// naming the flag or variable, a generator token or webhook signing secret under 32 bytes and
// an http:// Argo CD or webhook URL that --allow-insecure-http does not allow. The value of a
// token is never repeated.
func TestServeRefusesWeakSettings(t *testing.T) {
	dir := t.TempDir()
	file := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	long := strings.Repeat("a1", 16) // 32 bytes
	short, longFile := file("short", "short-token-0123"), file("long", long)
	base := cli.Env{"AWS_REGION": "eu-west-1", "DYNAMO_CMP_TABLE": "t"}
	tests := []struct {
		name string
		env  cli.Env
		args []string
		want []string
	}{
		{"short token file", base, []string{"--generator-token-file", short}, []string{"--generator-token-file (" + short + "): the token is 16 bytes, shorter than the 32 required"}},
		{"short token in the environment", with(base, "DYNAMO_CMP_GENERATOR_TOKEN", "tiny"), nil, []string{"DYNAMO_CMP_GENERATOR_TOKEN: the token is 4 bytes"}},
		{"short previous token", base, []string{"--generator-token-file", longFile, "--generator-previous-token-file", short}, []string{"--generator-previous-token-file (" + short + "): the token is 16 bytes"}},
		{"http Argo CD", with(base, "DYNAMO_CMP_ARGOCD_TOKEN", "argo"), []string{"--generator-token-file", longFile, "--argocd-url", "http://argocd-server.argocd.svc"},
			[]string{"--argocd-url: http://argocd-server.argocd.svc uses plain http", "--allow-insecure-http"}},
		{"http webhook", base, []string{"--generator-token-file", longFile, "--webhook-url", "http://portal.example.com/hook"}, []string{"--webhook-url: http://portal.example.com/hook uses plain http"}},
		{"short signing secret", base, []string{"--generator-token-file", longFile, "--webhook-url", "https://portal.example.com/hook", "--webhook-signing-secret-file", short},
			[]string{"--webhook-signing-secret-file (" + short + "): the signing secret is 16 bytes"}},
		{"metrics on the API's address", base, []string{"--generator-token-file", longFile, "--listen", ":8080", "--metrics-address", ":8080"}, []string{"--metrics-address :8080 is the API's --listen address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, append([]string{"serve"}, tt.args...)...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (usage); stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, secret := range []string{"short-token-0123", "tiny"} {
				if strings.Contains(r.stderr, secret) {
					t.Errorf("stderr repeats the secret %q:\n%s", secret, r.stderr)
				}
			}
		})
	}
}
