package cli

import (
	"strings"
	"testing"
)

func TestCell(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, ünïcödé", "plain text, ünïcödé"},
		{"a\tb", `a\tb`},
		{"line\nbreak\r", `line\nbreak\r`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\x07 del\x7f c1\u0085", `bell\a del\x7f c1\u0085`},
		{"rtl\u202eexe zw\u200bsp ls\u2028", `rtl\u202eexe zw\u200bsp ls\u2028`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"a real \uFFFD stays", "a real \uFFFD stays"},
	} {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTableRowsStayInColumns(t *testing.T) {
	var b strings.Builder
	tw := newTable(&b, "NAME", "N", "NOTE")
	tw.row("a\tb", 7, "x\ny")
	tw.row("c", 12, "z")
	if err := tw.flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME  N   NOTE\n" +
		`a\tb  7   x\ny` + "\n" +
		"c     12  z\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
