package msgfmt

import (
	"fmt"
	"strconv"
)

// Truncate cuts s to n characters, marking the cut with "…"; it never cuts inside a
// character (the core's copy of internal/oneline.Cut: pkg/ imports nothing of internal/).
func Truncate(s string, n int) string {
	i := 0
	for at := range s { // at: the byte offset of each character
		if i == n {
			return s[:at] + "…"
		}
		i++
	}
	return s
}

// QuoteShort quotes s, cut to 80 characters.
func QuoteShort(s string) string { return strconv.Quote(Truncate(s, 80)) }

// Printable reports whether s holds no control characters.
func Printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Describe names the type of a raw value for error messages.
func Describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64, int:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("%T", v)
	}
}
