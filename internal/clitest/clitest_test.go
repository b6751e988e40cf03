package clitest

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

func TestRun(t *testing.T) {
	r := Run(t, cli.Env{}, "no-such-command")
	if r.Code != 2 {
		t.Errorf("unknown command: exit %d, want 2 (usage)\n%s", r.Code, r)
	}
	if r.Stdout != "" {
		t.Errorf("unknown command wrote to stdout: %q", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "no-such-command") {
		t.Errorf("stderr does not name the unknown command:\n%s", r)
	}
}
