// Package oneline shortens text for a message: a free-text message (a publish or rollback
// message) put on one line for a table cell or an Argo CD parameter description, and a name
// or value cut short where a message quotes it. It is the one truncation of the project: it
// never cuts inside a character.
package oneline

import "strings"

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// Shorten puts s on one line (each line break becomes a space) and cuts it to its first max
// characters (runes, never inside one), marking a cut with "…".
func Shorten(s string, max int) string {
	return Cut(newlines.Replace(s), max)
}

// Cut cuts s to its first max characters (runes, never inside one), marking a cut with "…".
func Cut(s string, max int) string {
	n := 0
	for i := range s { // i: the byte offset of each rune
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
