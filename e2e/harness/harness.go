// Package harness starts the real components the end-to-end tests of dynamo-cmp run against —
// Amazon DynamoDB Local, Argo CD's argocd-cmp-server, etcd and kube-apiserver — and drives
// them the way Argo CD does. Every helper takes a testing.TB, registers its own cleanup and
// stops the processes it started by PID. Every server listens on 127.0.0.1 (or a unix
// socket) only.
//
// A test package using the harness must hand its TestMain to Main, because the test binary
// re-executes itself as argocd-cmp-server (and as any helper registered with RegisterHelper):
//
//	func TestMain(m *testing.M) { harness.Main(m) }
package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	log "github.com/sirupsen/logrus"
)

// helperArg is the first argument of a test binary that is re-executed as a helper program.
const helperArg = "-dynamo-cmp-e2e-helper"

var (
	helpersMu sync.Mutex
	helpers   = map[string]func(args []string) int{
		"argocd-cmp-server": runCMPServer,
	}

	mainUsed atomic.Bool

	processCleanupMu sync.Mutex
	processCleanups  []func()
)

// RegisterHelper registers a program the test binary can be re-executed as (see
// HelperCommand). Call it from an init function or from TestMain before Main: the helper
// process only runs code that ran before Main. fn receives the arguments after the name and
// returns the exit code.
func RegisterHelper(name string, fn func(args []string) int) {
	helpersMu.Lock()
	defer helpersMu.Unlock()
	if _, dup := helpers[name]; dup {
		panic("harness: helper " + name + " registered twice")
	}
	helpers[name] = fn
}

// HelperCommand returns the argv that runs this test binary as the registered helper name
// with args — usable as a plugin.yaml command (no shell involved).
func HelperCommand(name string, args ...string) []string {
	exe, err := os.Executable()
	if err != nil {
		panic(fmt.Sprintf("harness: cannot locate the test binary: %v", err))
	}
	return append([]string{exe, helperArg, name}, args...)
}

// Main runs the tests, or the helper program this process was started as. Use it as the
// body of TestMain. Resources shared by the whole test process (the dynamo-cmp binary, the
// git wrapper) are removed after the tests.
func Main(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == helperArg {
		helpersMu.Lock()
		fn := helpers[os.Args[2]]
		helpersMu.Unlock()
		if fn == nil {
			fmt.Fprintf(os.Stderr, "harness: unknown helper %q\n", os.Args[2])
			os.Exit(2)
		}
		os.Exit(fn(os.Args[3:]))
	}
	mainUsed.Store(true)
	undoGoTestPath()
	// Argo CD's repo-server code logs every request and every git command at info level
	// through logrus (the global logger, and loggers configured from ARGOCD_LOG_LEVEL). Keep
	// warnings and errors only, unless ARGOCD_LOG_LEVEL asks for more.
	level, err := log.ParseLevel(os.Getenv("ARGOCD_LOG_LEVEL"))
	if err != nil {
		level = log.WarnLevel
		_ = os.Setenv("ARGOCD_LOG_LEVEL", level.String())
	}
	log.SetLevel(level)
	code := m.Run()
	processCleanupMu.Lock()
	for i := len(processCleanups) - 1; i >= 0; i-- {
		processCleanups[i]()
	}
	processCleanupMu.Unlock()
	os.Exit(code)
}

func requireMain(t testing.TB) {
	t.Helper()
	if !mainUsed.Load() {
		t.Fatal("harness: the test package must call harness.Main from TestMain: func TestMain(m *testing.M) { harness.Main(m) }")
	}
}

// onProcessExit registers fn to run after all tests of the process (see Main).
func onProcessExit(fn func()) {
	processCleanupMu.Lock()
	defer processCleanupMu.Unlock()
	processCleanups = append(processCleanups, fn)
}

var (
	repoRootOnce sync.Once
	repoRoot     string
	repoRootErr  error
)

// RepoRoot returns the root of the dynamo-cmp repository (the directory holding
// scripts/dynamodb-local.sh and e2e/), found by walking up from the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	repoRootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			repoRootErr = err
			return
		}
		for {
			if fileExists(filepath.Join(dir, "scripts", "dynamodb-local.sh")) && fileExists(filepath.Join(dir, "e2e", "go.mod")) {
				repoRoot = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				repoRootErr = errors.New("no directory above the working directory holds scripts/dynamodb-local.sh and e2e/go.mod")
				return
			}
			dir = parent
		}
	})
	if repoRootErr != nil {
		t.Fatalf("harness: finding the repository root: %v", repoRootErr)
	}
	return repoRoot
}

// PluginDir returns the repository's plugin/ directory, which holds the plugin.yaml that
// ships in the sidecar; pass it to StartCMPServer to run the product exactly as configured.
func PluginDir(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "plugin")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	// Below the ephemeral range: a port the kernel hands out for ":0" is also what it hands
	// out as the source port of outgoing connections, and with four kube-apiservers, etcds and
	// Argo CD talking to each other one was taken between this check and the server's bind
	// (etcd: "bind: address already in use"). Ports below the range are only ever taken by a
	// listener, and the check below sees those.
	if lo := ephemeralPortLow(); lo > 12000 {
		for range 200 {
			port := lo - 10000 + rand.IntN(10000)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				l.Close()
				return port
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralPortLow is the first port of the kernel's ephemeral range (0 when unknown).
func ephemeralPortLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// shortTempDir makes a temporary directory with a short path (unix socket paths are limited
// to 107 bytes, and t.TempDir embeds the test name) and removes it at cleanup.
func shortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// process is a child process started by the harness, with its output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // valid after done is closed
}

// startProcess starts cmd with its stdout and stderr in logPath. The child is killed by the
// kernel if the test process dies (StartChild; a test timeout skips cleanups).
func startProcess(t testing.TB, name string, cmd *exec.Cmd, logPath string) *process {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	defer logFile.Close()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := StartChild(cmd); err != nil {
		t.Fatalf("harness: starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process (by PID) and waits for it.
func (p *process) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// logTail returns the last n lines of the process's log.
func (p *process) logTail(n int) string {
	return fileTail(p.logPath, n)
}

func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dumpLogOnFailure logs the tail of the process's log at cleanup if the test failed.
func (p *process) dumpLogOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("harness: last lines of the %s log (%s):\n%s", p.name, p.logPath, p.logTail(40))
		}
	})
}

// waitFor polls cond every interval until it returns true, the process exits, or timeout.
func waitFor(p *process, timeout, interval time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited (%v); last log lines:\n%s", p.name, p.err, p.logTail(30))
		}
		if time.Now().After(deadline) {
			if p != nil {
				return fmt.Errorf("%s not ready after %s; last log lines:\n%s", p.name, timeout, p.logTail(30))
			}
			return fmt.Errorf("not ready after %s", timeout)
		}
		time.Sleep(interval)
	}
}

// runLogged runs cmd, streaming its stderr line by line to this process's stderr (progress of
// long builds shows up while they run, even without -v), and returns its stdout. The stderr
// is part of the returned error.
func runLogged(t testing.TB, prefix string, cmd *exec.Cmd) ([]byte, error) {
	t.Helper()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			stderr.WriteString(line + "\n")
			fmt.Fprintf(os.Stderr, "%s%s\n", prefix, line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	_ = pw.Close()
	<-done
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// goModDownload returns the module directory of path (at version, or at the version the go.mod
// in dir requires when version is empty), downloading it through the Go module proxy and
// verifying it against dir's go.sum. In the e2e module that is the go.mod this test binary is
// built against (GoModFile).
func goModDownload(t testing.TB, dir, path, version string) (string, error) {
	t.Helper()
	arg := path
	if version != "" {
		arg += "@" + version
	}
	args := []string{"mod", "download", "-json"}
	if filepath.Clean(dir) == filepath.Join(RepoRoot(t), "e2e") {
		args = append(args, modFileFlags(t)...)
	}
	cmd := exec.Command("go", append(args, arg)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct {
		Dir   string
		Error string
	}
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s (in %s): %s", arg, dir, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s (in %s): %v\n%s%s", arg, dir, err, out, stderr.String())
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s (in %s): unexpected output %q", arg, dir, out)
	}
	return info.Dir, nil
}
