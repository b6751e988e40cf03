// Command registry is the CNCF distribution registry (github.com/distribution/distribution/v3)
// as the e2e tests run it: its own serve command with the filesystem storage driver and,
// optionally, htpasswd authentication, listening on a loopback address. It lives in a module
// of its own so that the e2e module's go.mod — whose hash keys the cached Argo CD build —
// stays as Argo CD v3.5.7 pins it.
//
//	registry DIR ADDR [USER PASSWORD]
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: registry DIR ADDR [USER PASSWORD]")
		os.Exit(2)
	}
	dir, addr := os.Args[1], os.Args[2]
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	if len(os.Args) == 5 {
		hash, err := bcrypt.GenerateFromPassword([]byte(os.Args[4]), bcrypt.MinCost)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(os.Args[3]+":"+string(hash)+"\n"), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: e2e\n    path: %s\n", htpasswd)
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	registry.RootCmd.SetArgs([]string{"serve", path})
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
