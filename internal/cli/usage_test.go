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

// Issue 18 §5: `--table ""` ignored DYNAMO_CMP_TABLE and wrote to the default table
// dynamo-cmp (exit 0); a table name DynamoDB refuses, and a negative version, went to
// DynamoDB and came back as exit 3 ("retry"). Each is a usage error (exit 2) caught before any
// call, naming the flag (or variable) and the value.
func TestTableAndVersionFlagsAreChecked(t *testing.T) {
	env, _ := examplesTable(t)
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"empty --table", env, []string{"table", "create", "--table", ""}, `--table is empty: name the DynamoDB table`},
		{"empty --table on a read", env, []string{"config", "history", "--layer", "global", "--table="}, `--table is empty`},
		{"table name with a space", env, []string{"table", "create", "--table", "a b"}, `--table "a b": not a DynamoDB table name (3 to 255 characters: letters, digits, '_', '-' and '.')`},
		{"table name too short", env, []string{"table", "create", "--table", "ab"}, `--table "ab": not a DynamoDB table name`},
		{"table name too long", env, []string{"table", "create", "--table", strings.Repeat("t", 256)}, `not a DynamoDB table name`},
		{"bad DYNAMO_CMP_TABLE", with(env, "DYNAMO_CMP_TABLE", "team/config"), []string{"config", "history", "--layer", "global"}, `DYNAMO_CMP_TABLE="team/config": not a DynamoDB table name`},
		{"negative --version", env, []string{"config", "get", "--layer", "global", "--version", "-3"}, `--version -3: versions are numbered from 1`},
		{"negative diff --from", env, []string{"config", "diff", "--layer", "global", "--from", "-3", "--to", "1"}, `--from "-3": a version number`},
		{"diff --to with trailing text", env, []string{"config", "diff", "--layer", "global", "--from", "1", "--to", "1x"}, `--to "1x": a version number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, c.args...)
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want 2 with %q on stderr and nothing on stdout; stdout %q, stderr:\n%s", r.code, c.want, r.stdout, r.stderr)
			}
		})
	}
	// generate says it in its one paragraph, with a trace id, as Argo CD shows it.
	r := run(t, argocdEnv(with(env, "DYNAMO_CMP_TABLE", "team/config"), `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
	assertFailedCleanly(t, r, 2, `DYNAMO_CMP_TABLE="team/config": not a DynamoDB table name`)

	// The longest and shortest names DynamoDB accepts pass the check (and reach DynamoDB).
	for _, name := range []string{"abc", "a.b-c_D9", strings.Repeat("t", 255)} {
		if r := run(t, env, "config", "history", "--layer", "global", "--table", name); r.code == 2 {
			t.Errorf("--table %.20s… refused as a usage error: %s", name, r.stderr)
		}
	}
}
