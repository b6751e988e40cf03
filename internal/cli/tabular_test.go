package cli_test

import (
	"strings"
	"testing"
	"unicode"
)

// TestHistoryEscapesControlCharacters: the -m and --actor text a publisher typed reaches
// config history escaped: no ESC sequence reaches the terminal, no tab or newline breaks the
// columns.
func TestHistoryEscapesControlCharacters(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	msg := "evil \x1b[2J\x1b[31mred\tcolumn\rback\u202egnp.exe\x07"
	actor := "mallory\t\x1b]0;owned\x07"
	if r := run(t, env, "config", "publish", "-f", "../../examples/layers/global.yaml", "--layer", "global", "-m", msg, "--actor", actor); r.code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, env, "config", "history", "--layer", "global")
	if r.code != 0 {
		t.Fatalf("history: exit %d: %s", r.code, r.stderr)
	}
	for i, c := range r.stdout {
		if c != '\n' && (unicode.IsControl(c) || unicode.Is(unicode.Cf, c)) {
			t.Fatalf("history prints the control character %U at byte %d:\n%q", c, i, r.stdout)
		}
	}
	for _, want := range []string{
		// A lone carriage return is a line break: the message goes on one line (oneline).
		`evil \x1b[2J\x1b[31mred\tcolumn back\u202egnp.exe\a`,
		`mallory\t\x1b]0;owned\a`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("history lacks the escaped text %s:\n%s", want, r.stdout)
		}
	}
	// The columns hold: every row of each table has its ACTOR cell where the header has it.
	for _, block := range strings.Split(strings.TrimSpace(r.stdout), "\n\n") {
		lines := strings.Split(block, "\n")
		col := strings.Index(lines[0], "ACTOR")
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l[col:], "mallory") {
				t.Errorf("the ACTOR column moved:\n%s", block)
			}
		}
	}
}
