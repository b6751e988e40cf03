package dynamolocal

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
)

// installTimeout bounds the one-time download of the server; readyTimeout bounds a start
// (about 1.5 s on an idle machine, much more on a loaded one).
const (
	installTimeout = 5 * time.Minute
	readyTimeout   = 2 * time.Minute
)

// coordinatorEnv carries the endpoint of a fuzz coordinator's server to its fuzz workers
// (which inherit its environment): they run the fuzz target's setup too, and share the
// coordinator's server instead of each starting a JVM of their own.
const coordinatorEnv = "DYNAMOLOCAL_FUZZ_COORDINATOR_ENDPOINT"

// server is one running DynamoDB Local, a child of this process that the kernel kills when
// this process dies (testkit.StartChild), or a fuzz coordinator's server (cmd nil).
type server struct {
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	log      *tailBuffer
}

var (
	mainActive atomic.Bool
	sharedOnce sync.Once
	shared     *server
	sharedErr  error
)

// Main runs the package's tests and then stops the DynamoDB Local that Start started, if
// any. Call it from TestMain. Nothing is started unless a test calls Start; should the
// process die before the end (a panic, a test timeout, a fuzz worker killed by its
// coordinator), the kernel kills the server with it.
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
// tests (and by the workers of a fuzz run); without, each call starts its own, stopped when
// tb ends. If Java is missing, the test fails saying how to install it.
func Start(tb testing.TB) string {
	tb.Helper()
	if !mainActive.Load() {
		s, err := start()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := s.stop(); err != nil {
				tb.Error(err)
			}
		})
		return s.endpoint
	}
	first := false
	began := time.Now()
	sharedOnce.Do(func() {
		first = true
		if endpoint := os.Getenv(coordinatorEnv); endpoint != "" && testFlag("test.fuzzworker") == "true" {
			shared = &server{endpoint: endpoint}
			return
		}
		shared, sharedErr = start()
		if sharedErr == nil && testFlag("test.fuzz") != "" {
			// The coordinator starts its workers after this setup, with its environment.
			sharedErr = os.Setenv(coordinatorEnv, shared.endpoint)
		}
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	if first && shared.cmd != nil {
		tb.Logf("dynamolocal: DynamoDB Local at %s (started in %s)", shared.endpoint, time.Since(began).Round(time.Millisecond))
	}
	return shared.endpoint
}

// testFlag returns the value of the testing package's flag name ("" when not defined).
func testFlag(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// start runs DynamoDB Local on a free loopback port (scripts/dynamodb-local.sh run, which
// execs java: the child is the JVM) and waits until it answers.
func start() (*server, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("dynamolocal: java is not installed: DynamoDB Local needs a Java 17 runtime " +
			"(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; CI installs it)")
	}
	root, err := testkit.FindRepoRoot() // it holds scripts/dynamodb-local.sh
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: %w", err)
	}
	script := filepath.Join(root, "scripts", "dynamodb-local.sh")
	closeInheritedOnExec()
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, script, "install").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dynamolocal: %s install: %v\n%s", script, err, out)
	}
	var lastErr error
	for range 3 {
		s, err := run(script)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

// run starts one server and waits until it answers; on failure nothing is left running.
func run(script string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("dynamolocal: %w", err)
	}
	s := &server{endpoint: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), log: &tailBuffer{}}
	s.cmd = exec.Command(script, "run", strconv.Itoa(port))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := testkit.StartChild(s.cmd); err != nil {
		return nil, fmt.Errorf("dynamolocal: starting %s run: %w", script, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	// Any HTTP status on GET / means it is serving (it answers 400).
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.done:
			if strings.Contains(s.log.String(), "Address already in use") {
				return nil, fmt.Errorf("dynamolocal: port %d: %w", port, errPortTaken)
			}
			return nil, fmt.Errorf("dynamolocal: DynamoDB Local exited (%v) before answering:\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		if resp, err := client.Get(s.endpoint + "/"); err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("dynamolocal: DynamoDB Local did not answer on %s within %s:\n%s", s.endpoint, readyTimeout, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server (by PID; it keeps nothing: the tables live in memory) and waits
// until it has exited. A fuzz coordinator's server is left to the coordinator.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
		return nil
	case <-time.After(time.Minute):
		return fmt.Errorf("dynamolocal: DynamoDB Local (pid %d) still runs a minute after SIGKILL", s.cmd.Process.Pid)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last 16 KiB written to it (the server's log), safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 16<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
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
	// The process id: the workers of a fuzz run share their coordinator's server.
	return fmt.Sprintf("t-%s-%d-%d", b, os.Getpid(), tableSeq.Add(1))
}
