// Package clitest runs dynamo-cmp commands in process for tests, as a user would run the
// binary: given arguments, a whole environment as a map, no standard input, and what the user
// sees (exit code, stdout, stderr) returned.
package clitest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// Result is what a user sees of one command.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// String shows the result in a test failure: the exit code and the start of each stream.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, truncate(r.Stdout, 2000), truncate(r.Stderr, 4000))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Run runs a dynamo-cmp command in process, with env as its whole environment and an empty
// standard input, and at most two minutes to finish.
func Run(tb testing.TB, env cli.Env, args ...string) Result {
	tb.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := cli.Run(ctx, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args, env)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}
