package harness

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	registryOnce sync.Once
	registryBin  string
	registryErr  error
)

// Registry is a CNCF distribution registry (v3.1.2, built from its Go module by
// e2e/registrybin) running as a process on 127.0.0.1, plain HTTP, filesystem storage in a
// temporary directory.
type Registry struct {
	// Addr is host:port; an OCI reference is oci://Addr/REPOSITORY:TAG.
	Addr string
	// User and Password are the htpasswd account every request needs ("" = anonymous).
	User, Password string
	proc           *process
}

// buildRegistry builds e2e/registrybin once per test process (its own module: the e2e
// module's go.mod keys the cached Argo CD build and stays untouched).
func buildRegistry(t testing.TB) string {
	t.Helper()
	registryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dynamo-cmp-registry-")
		if err != nil {
			registryErr = err
			return
		}
		onProcessExit(func() { _ = os.RemoveAll(dir) })
		start := time.Now()
		bin := filepath.Join(dir, "registry")
		cmd := exec.Command("go", "build", "-mod=readonly", "-o", bin, ".")
		cmd.Dir = filepath.Join(RepoRoot(t), "e2e", "registrybin")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if _, err := runLogged(t, "go build registry: ", cmd); err != nil {
			registryErr = err
			return
		}
		t.Logf("harness: built the distribution registry in %s", time.Since(start).Round(time.Millisecond))
		registryBin = bin
	})
	if registryErr != nil {
		t.Fatalf("harness: building the distribution registry: %v", registryErr)
	}
	return registryBin
}

// StartRegistry starts a distribution registry on a free loopback port; with user set, every
// request needs Basic auth user:password (htpasswd). It is killed by PID at cleanup.
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	bin := buildRegistry(t)
	dir := shortTempDir(t, "registry-")
	r := &Registry{Addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), User: user, Password: password}
	args := []string{dir, r.Addr}
	if user != "" {
		args = append(args, user, password)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	r.proc = startProcess(t, "registry", cmd, filepath.Join(dir, "registry.log"))
	t.Cleanup(r.proc.kill)
	r.proc.dumpLogOnFailure(t)
	// /v2/ answers 200, or 401 when authentication is on: either way it serves the API.
	if err := waitFor(r.proc, 30*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	}); err != nil {
		t.Fatalf("harness: registry: %v", err)
	}
	return r
}

// LogPath is the registry's log (access log included).
func (r *Registry) LogPath() string { return r.proc.logPath }
