// Package oneline shortens a free-text message (a publish or rollback message) to one line
// for a table cell or an Argo CD parameter description.
package oneline

import "strings"

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// Shorten puts s on one line (each line break becomes a space) and cuts it to its first max
// characters (runes, never inside one), marking a cut with "…".
func Shorten(s string, max int) string {
	s = newlines.Replace(s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
