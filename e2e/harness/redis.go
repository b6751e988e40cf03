package harness

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Redis is a redis-server (Debian's package) on a free 127.0.0.1 port, without persistence —
// the cache every Argo CD component shares.
type Redis struct {
	// Addr is host:port, as Argo CD's --redis flag takes it.
	Addr string

	proc *process
}

// Stop kills the server (SIGKILL by PID). Safe to call more than once.
func (r *Redis) Stop() { r.proc.kill() }

// StartRedis starts redis-server from PATH (`apt-get install redis-server`; .ci/run installs
// it) and stops it at cleanup.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("harness: redis-server not found on PATH (apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	p := startProcess(t, "redis-server", cmd, filepath.Join(dir, "redis.log"))
	t.Cleanup(p.kill)
	p.dumpLogOnFailure(t)
	if err := waitFor(p, 30*time.Second, 20*time.Millisecond, func() bool { return tcpOpen(addr) }); err != nil {
		t.Fatalf("harness: redis-server: %v", err)
	}
	return &Redis{Addr: addr, proc: p}
}

func tcpOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
