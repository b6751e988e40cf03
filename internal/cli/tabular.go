package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// table prints the aligned columns of the operators' listings (history, clusters list,
// drafts list). Every cell goes through cell, so text that came from the table — actors,
// messages, names edited in the console — can neither drive the terminal (an ESC sequence)
// nor break the columns (a tab or a newline).
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(anySlice(header)...)
	return t
}

// row prints one row; strings are escaped with cell, other values formatted with %v.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(t.tw, "\t")
		}
		s, ok := c.(string)
		if !ok {
			s = fmt.Sprint(c)
		}
		io.WriteString(t.tw, cell(s))
	}
	io.WriteString(t.tw, "\n")
}

func (t *table) flush() error { return t.tw.Flush() }

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// cell makes s safe to print in one column of a terminal: control characters (C0, DEL, C1:
// ESC, tab, newline, carriage return, bell ...), invisible format characters (bidi
// overrides, zero-width spaces) and invalid UTF-8 are written as Go escapes (\x1b, \t,
// \u202e, \xff). Text without them is returned unchanged.
func cell(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// checkTableOrJSON refuses an --output other than table or json (exit 2).
func checkTableOrJSON(output string) error {
	if output != "table" && output != "json" {
		return withCode(ExitUsage, fmt.Errorf("--output %q: use table or json", output))
	}
	return nil
}
