package oneline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "fix quota", 72, "fix quota"},
		{"line breaks", "two\r\nlines\nhere\rnow", 72, "two lines here now"},
		{"cut", strings.Repeat("a", 80), 72, strings.Repeat("a", 72) + "…"},
		{"exactly max", strings.Repeat("a", 72), 72, strings.Repeat("a", 72)},
		{"cut counts runes, not bytes", strings.Repeat("é", 120), 100, strings.Repeat("é", 100) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Shorten(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("Shorten(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Shorten(%q, %d) = %q is not valid UTF-8", tc.in, tc.max, got)
			}
		})
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"x" + strings.Repeat("é", 10), 4, "xééé…"},
		{"line\nbreak", 20, "line\nbreak"}, // Cut keeps lines; Shorten joins them
		{"", 0, ""},
	} {
		if got := Cut(tc.in, tc.max); got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
