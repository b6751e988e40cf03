package dynamolocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
)

// startTimeout bounds the start, including the one-time download of the server.
const startTimeout = 5 * time.Minute

// server is one running DynamoDB Local.
type server struct {
	endpoint string
	script   string
	stateDir string
	// lifeline is the write end of a pipe whose read end a watchdog process waits on: when
	// this process dies in any way (a panic, a test timeout, a kill), the pipe closes and
	// the watchdog stops the server.
	lifeline *os.File
	watchdog *exec.Cmd
}

var (
	mainActive atomic.Bool
	sharedOnce sync.Once
	shared     *server
	sharedErr  error
)

// Main runs the package's tests and then stops the DynamoDB Local that Start started, if
// any. Call it from TestMain. Should the process die before (a panic in a test, a test
// timeout), a watchdog stops the server.
func Main(m *testing.M) {
	mainActive.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "dynamolocal: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Start returns the endpoint (http://127.0.0.1:PORT) of the package's DynamoDB Local,
// starting it on first use. With Main in TestMain the server is shared by the package's
// tests; without, each call starts its own, stopped when tb ends. If Java is missing, the
// test fails saying how to install it.
func Start(tb testing.TB) string {
	tb.Helper()
	if !mainActive.Load() {
		s, err := start()
		if s != nil {
			tb.Cleanup(func() {
				if err := s.stop(); err != nil {
					tb.Error(err)
				}
			})
		}
		if err != nil {
			tb.Fatal(err)
		}
		return s.endpoint
	}
	first := false
	began := time.Now()
	sharedOnce.Do(func() {
		first = true
		shared, sharedErr = start()
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	if first {
		tb.Logf("dynamolocal: DynamoDB Local at %s (started in %s)", shared.endpoint, time.Since(began).Round(time.Millisecond))
	}
	return shared.endpoint
}

// start runs scripts/dynamodb-local.sh start. On error it may still return the server, to
// be stopped.
func start() (*server, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("dynamolocal: java is not installed: DynamoDB Local needs a Java 17 runtime " +
			"(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; CI installs it)")
	}
	root, err := testkit.FindRepoRoot() // it holds scripts/dynamodb-local.sh
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: %w", err)
	}
	closeInheritedOnExec()
	stateDir, err := os.MkdirTemp("", "dynamolocal-")
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: %w", err)
	}
	s := &server{script: filepath.Join(root, "scripts", "dynamodb-local.sh"), stateDir: stateDir}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.script, "start", stateDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// The watchdog goes up before anything can fail: the script may have left a server.
	s.startWatchdog()
	if err != nil {
		return s, fmt.Errorf("dynamolocal: %s start: %v\n%s%s", s.script, err, stderr.String(), s.logTail())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	s.endpoint = strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(s.endpoint, "http://127.0.0.1:") {
		return s, fmt.Errorf("dynamolocal: %s start printed %q, want http://127.0.0.1:PORT", s.script, s.endpoint)
	}
	return s, nil
}

// startWatchdog starts a detached shell that blocks reading a pipe only this process holds
// open; end of file means this process is gone, and the shell stops the server and removes
// its state directory.
func (s *server) startWatchdog() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	cmd := exec.Command("sh", "-c", `read -r _; "$0" stop "$1"; rm -rf "$1"`, s.script, s.stateDir)
	cmd.Stdin = r
	// Its own session: a signal to the test's process group does not take it down first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return
	}
	r.Close()
	s.lifeline, s.watchdog = w, cmd
}

// stop stops the server by PID (through the script), then the watchdog, and removes the
// state directory.
func (s *server) stop() error {
	out, err := exec.Command(s.script, "stop", s.stateDir).CombinedOutput()
	if s.lifeline != nil {
		s.lifeline.Close()
		_ = s.watchdog.Wait()
		s.lifeline = nil
	}
	if err != nil {
		return fmt.Errorf("dynamolocal: stopping DynamoDB Local: %v\n%s", err, out)
	}
	return os.RemoveAll(s.stateDir)
}

func (s *server) logTail() string {
	data, err := os.ReadFile(filepath.Join(s.stateDir, "log"))
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "server log:\n" + strings.Join(lines, "\n")
}

var tableSeq atomic.Int64

// NewTable creates a table with a name unique to the test in the DynamoDB Local at endpoint
// and returns the store configuration to reach it: static dummy credentials, region
// us-east-1. Only loopback endpoints are accepted.
func NewTable(tb testing.TB, endpoint string) store.Config {
	tb.Helper()
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		tb.Fatalf("dynamolocal: endpoint %q: tests talk to DynamoDB Local on 127.0.0.1 only", endpoint)
	}
	cfg := store.Config{
		Table:             tableName(tb.Name()),
		Region:            "us-east-1",
		Endpoint:          endpoint,
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "dummy", SecretAccessKey: "dummy"},
		MaxAttempts:       3,
		MaxBackoff:        200 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("dynamolocal: %v", err)
	}
	if _, err := s.CreateTable(ctx); err != nil {
		tb.Fatalf("dynamolocal: %v", err)
	}
	return cfg
}

// NewStore returns a store on a fresh table of the package's DynamoDB Local (see NewTable)
// and the call counter observing it.
func NewStore(tb testing.TB) (*store.Store, *store.CallCounter) {
	tb.Helper()
	cfg := NewTable(tb, Start(tb))
	calls := &store.CallCounter{}
	cfg.Observer = calls
	s, err := store.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("dynamolocal: %v", err)
	}
	return s, calls
}

// tableName turns a test name into a valid, unique table name.
func tableName(test string) string {
	b := []byte(test)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf("t-%s-%d", b, tableSeq.Add(1))
}
