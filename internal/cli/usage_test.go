package cli_test

import (
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// A mistyped command line exits 2 (usage) naming what was wrong, prints nothing on stdout
// (a caller reading manifests gets none) and never reaches a store: the environment here
// names none, so any attempt would fail otherwise.
func TestUsageErrorsExit2(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"no-such-command"}, `unknown command "no-such-command"`},
		{"unknown subcommand", []string{"config", "publsh"}, `unknown command "publsh" for "dynamo-cmp config" (did you mean publish?)`},
		{"unknown subcommand of a subcommand", []string{"config", "drafts", "lst"}, `unknown command "lst" for "dynamo-cmp config drafts"`},
		{"unknown flag", []string{"generate", "--no-such-flag"}, "--no-such-flag"},
		{"flag without its value", []string{"config", "render", "--cluster"}, "--cluster"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, cli.Env{}, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("%s: exit %d, want 2 with %q on stderr and nothing on stdout; stdout %q, stderr:\n%s",
					strings.Join(c.args, " "), r.code, c.want, r.stdout, r.stderr)
			}
		})
	}
}

// A command group run alone shows its commands, as asked.
func TestCommandGroupAloneShowsItsHelp(t *testing.T) {
	r := run(t, cli.Env{}, "config")
	if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") || !strings.Contains(r.stdout, "publish") {
		t.Errorf("config: exit %d, want 0 and the group's commands on stdout; stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
