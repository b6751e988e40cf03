package importer

import (
	"os"
	"path/filepath"
	"strings"
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
