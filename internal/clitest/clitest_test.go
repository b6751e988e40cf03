package clitest

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// Run hands back what a user sees, each stream apart: the exit codes of the CLI are tested
// where the CLI lives (internal/cli).
func TestRunSeparatesTheStreams(t *testing.T) {
	r := Run(t, cli.Env{}, "--version")
	if r.Code != 0 || !strings.Contains(r.Stdout, cli.Version) || r.Stderr != "" {
		t.Errorf("--version: want exit 0, the version on stdout and nothing on stderr\n%s", r)
	}
	r = Run(t, cli.Env{}, "no-such-command")
	if r.Code == 0 || r.Stdout != "" || !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("a failing command: want a non-zero exit and its error on stderr only\n%s", r)
	}
}
