package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// execCLI, set in a child's environment, makes this test binary run as dynamo-cmp itself
// (what cmd/dynamo-cmp/main.go does) instead of running tests: the fault tests run generate
// as a fresh process, as argocd-cmp-server does, without building a second binary.
const execCLI = "DYNAMO_CMP_TEST_EXEC_CLI"

func init() {
	if os.Getenv(execCLI) != "1" {
		return
	}
	env := cli.EnvFromList(os.Environ())
	delete(env, execCLI)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:], env)
	stop()
	os.Exit(code)
}

// runProcess runs dynamo-cmp args as a fresh process with exactly env (nothing inherited
// from the test process).
func runProcess(t *testing.T, env cli.Env, args ...string) result {
	t.Helper()
	r, err := startProcess(env, args...)
	if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return r
}

func startProcess(env cli.Env, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = []string{execCLI + "=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return result{exitErr.ExitCode(), out.String(), errOut.String()}, nil
	case err != nil:
		return result{}, err
	}
	return result{0, out.String(), errOut.String()}, nil
}

// sidecarEnv is the environment of generate in the Argo CD sidecar, pointed at endpoint: a
// home without AWS files, and the instance metadata service pointed at imds, so a probe of it
// would be seen (and answered 404) instead of waited on.
func sidecarEnv(t *testing.T, env cli.Env, endpoint, imds string) cli.Env {
	home := t.TempDir()
	return with(argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`),
		"AWS_ENDPOINT_URL_DYNAMODB", endpoint,
		"HOME", home,
		"AWS_CONFIG_FILE", home+"/none",
		"AWS_SHARED_CREDENTIALS_FILE", home+"/none",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds,
		"ARGOCD_APP_NAMESPACE", "default",
		"ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567",
		"ARGOCD_APP_SOURCE_REPO_URL", "https://git.example.com/platform/clusters.git",
		"ARGOCD_APP_SOURCE_PATH", ".",
		"ARGOCD_APP_SOURCE_TARGET_REVISION", "HEAD",
		"KUBE_VERSION", "1.34.4",
	)
}

// TestGenerateUnderFaults runs generate as a fresh process through a fault-injecting proxy in
// front of DynamoDB Local. Whatever the fault, generate either prints the full stream, byte
// for byte what an unfaulted run prints, and exits 0 — or exits non-zero with nothing on
// stdout and one readable paragraph on stderr. Never a partial or empty stream with exit 0.
func TestGenerateUnderFaults(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)
	endpoint := env["AWS_ENDPOINT_URL_DYNAMODB"]

	// The reference: an unfaulted fresh process straight to DynamoDB Local.
	want := runProcess(t, sidecarEnv(t, env, endpoint, "http://127.0.0.1:9"), "generate")
	if want.code != 0 || want.stderr != "" || strings.Count(want.stdout, "\n") != 22 {
		t.Fatalf("unfaulted generate: exit %d, %d lines, stderr %q", want.code, strings.Count(want.stdout, "\n"), want.stderr)
	}
	if inProcess := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate"); inProcess.stdout != want.stdout {
		t.Fatal("generate in a fresh process and in-process differ")
	}

	// The same through the proxy without faults: the same bytes, and the number of requests
	// one generate makes (latest, environment unknown: 2 BatchGetItem + 3 Query, and the
	// Query of the policies alongside the first BatchGetItem).
	p := faultproxy.Start(t, endpoint)
	base := runProcess(t, sidecarEnv(t, env, p.URL(), p.URL()), "generate")
	if base.code != 0 || base.stdout != want.stdout {
		t.Fatalf("through the proxy: exit %d, stdout differs: %v\n%s", base.code, base.stdout != want.stdout, base.stderr)
	}
	baseline := p.Requests()
	if baseline != 6 || p.Calls("BatchGetItem") != 2 || p.Calls("Query") != 4 {
		t.Fatalf("one generate made %s, want BatchGetItem=2 Query=4", p.Summary())
	}
	if f := p.Foreign(); len(f) != 0 {
		t.Fatalf("generate asked something other than DynamoDB (instance metadata?): %v", f)
	}

	const (
		ok     = 0
		fail   = cli.ExitFailed
		either = -1
	)
	tests := []struct {
		name  string
		rules []faultproxy.Rule
		// timeout is DYNAMO_CMP_TIMEOUT ("" keeps generate's default of 30s).
		timeout string
		code    int
		// stderr: what the failure message must say.
		stderr []string
		// minRequests: at least this many requests reached the proxy (retries happened).
		minRequests int
	}{
		// Transient faults: the SDK's retries absorb them within the deadline.
		{name: "latency on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Latency(150 * time.Millisecond))},
			code: ok, minRequests: baseline},
		{name: "slow bodies on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Slow(100 * time.Millisecond))},
			code: ok, minRequests: baseline},
		{name: "connection resets, first 2 requests", rules: []faultproxy.Rule{faultproxy.First(2, faultproxy.ResetConnection())},
			code: ok, minRequests: baseline + 2},
		{name: "HTTP 500, first 2 requests", rules: []faultproxy.Rule{faultproxy.First(2, faultproxy.Status(500))},
			code: ok, minRequests: baseline + 2},
		{name: "HTTP 503 and 502, first requests", rules: []faultproxy.Rule{faultproxy.First(1, faultproxy.Status(503)), faultproxy.First(1, faultproxy.Status(502))},
			code: ok, minRequests: baseline + 2},
		{name: "ProvisionedThroughputExceeded, first 2 requests", rules: []faultproxy.Rule{faultproxy.First(2, faultproxy.Throttled(faultproxy.ProvisionedThroughputExceeded))},
			code: ok, minRequests: baseline + 2},
		{name: "ThrottlingException, first 2 Query requests", rules: []faultproxy.Rule{faultproxy.First(2, faultproxy.Throttled(faultproxy.ThrottlingException)).On("Query")},
			code: ok, minRequests: baseline + 2},
		{name: "server stops mid-stream, first 2 requests", rules: []faultproxy.Rule{faultproxy.First(2, faultproxy.Truncate())},
			code: ok, minRequests: baseline + 2},
		// No per-attempt timeout: one unanswered request may use up the whole deadline. Either
		// outcome is allowed; a partial or empty stream with exit 0 is not.
		{name: "no answer to the first request, 2s deadline", rules: []faultproxy.Rule{faultproxy.First(1, faultproxy.NoAnswer())}, timeout: "2s",
			code: either, minRequests: 1},

		// Faults that outlast the retries: a clean failure, after the retries were tried.
		{name: "connection reset on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.ResetConnection())},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"cannot reach DynamoDB at " + "http://127.0.0.1:", "connection reset", "check the sidecar's network access"}},
		{name: "HTTP 500 on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Status(500))},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"DynamoDB failed (InternalServerError, HTTP 500)"}},
		{name: "HTTP 502 from a load balancer on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Status(502))},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"HTTP 502"}},
		{name: "ProvisionedThroughputExceeded on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Throttled(faultproxy.ProvisionedThroughputExceeded))},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"throttled by DynamoDB (ProvisionedThroughputExceededException) even after retries", "on-demand is recommended"}},
		{name: "ThrottlingException on every Query, heads fine", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Throttled(faultproxy.ThrottlingException)).On("Query")},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"dynamodb Query on table", "throttled by DynamoDB (ThrottlingException) even after retries"}},
		{name: "server stops mid-stream on every request", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Truncate())},
			code: fail, minRequests: store.DefaultMaxAttempts, stderr: []string{"cannot reach DynamoDB at http://127.0.0.1:", "connection closed by the server"}},
		{name: "server stops mid-stream in the last Query", rules: []faultproxy.Rule{faultproxy.First(3, faultproxy.Forward()).On("Query"), faultproxy.Always(faultproxy.Truncate()).On("Query")},
			code: fail, minRequests: baseline + store.DefaultMaxAttempts - 1, stderr: []string{"read layer env/dev version 1: dynamodb Query on table", "connection closed by the server"}},
		{name: "no answer, 2s deadline", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.NoAnswer())}, timeout: "2s",
			code: fail, minRequests: 1, stderr: []string{"reading DynamoDB did not finish within the 2s deadline", "raise DYNAMO_CMP_TIMEOUT"}},
		{name: "answers slower than the 2s deadline", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Latency(5 * time.Second))}, timeout: "2s",
			code: fail, minRequests: 1, stderr: []string{"did not finish within the 2s deadline"}},
		{name: "bodies slower than the 2s deadline", rules: []faultproxy.Rule{faultproxy.Always(faultproxy.Slow(5 * time.Second)).On("Query")}, timeout: "2s",
			code: fail, minRequests: 1, stderr: []string{"did not finish within the 2s deadline"}},
	}
	// Every case runs at once (most of their time is the SDK's retry backoff), each through
	// its own proxy; the assertions follow.
	type outcome struct {
		r   result
		err error
		p   *faultproxy.Proxy
	}
	outcomes := make([]outcome, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		p := faultproxy.Start(t, endpoint)
		p.Inject(tt.rules...)
		e := sidecarEnv(t, env, p.URL(), p.URL())
		if tt.timeout != "" {
			e = with(e, "DYNAMO_CMP_TIMEOUT", tt.timeout)
		}
		outcomes[i].p = p
		wg.Go(func() { outcomes[i].r, outcomes[i].err = startProcess(e, "generate") })
	}
	wg.Wait()

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, p := outcomes[i].r, outcomes[i].p
			if outcomes[i].err != nil {
				t.Fatal(outcomes[i].err)
			}
			t.Logf("exit %d; %s", r.code, p.Summary())

			// The contract, whatever happened.
			switch {
			case r.code == 0 && r.stdout != want.stdout:
				t.Fatalf("exit 0 with a stream that is not the unfaulted one (%d bytes, want %d)", len(r.stdout), len(want.stdout))
			case r.code == 0 && r.stderr != "":
				t.Errorf("exit 0 with stderr %q", r.stderr)
			case r.code != 0:
				assertFailedCleanly(t, r, r.code)
				for _, leak := range []string{faultproxy.RequestIDPrefix, "x-amzn", "<html", "__type", "dummy"} {
					if strings.Contains(r.stderr, leak) {
						t.Errorf("stderr leaks %q: %s", leak, r.stderr)
					}
				}
			}
			// The expected outcome of this fault.
			if tt.code != either && r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q: %s", s, r.stderr)
				}
			}
			if p.Requests() < tt.minRequests {
				t.Errorf("%s; want at least %d requests (the retries)", p.Summary(), tt.minRequests)
			}
			if p.Injected() == 0 {
				t.Errorf("no fault was injected: %s", p.Summary())
			}
			if f := p.Foreign(); len(f) != 0 {
				t.Errorf("generate asked something other than DynamoDB: %v", f)
			}
		})
	}
}
