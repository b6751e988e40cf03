package render

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzJSONString: our string quoting is valid JSON that decodes (with encoding/json) to the
// same string encoding/json would produce from the input, and it carries none of the
// characters Argo CD's YAML reader of the stream refuses or alters when raw.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x1f\x7f", "nl\n\r\t\b\f", "utf8 ✓ é", "bad \xff\xfe",
		"\u2028\u2029", "<>&", "c1 \u0085\u009f", "non \ufffe\uffff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatalf("%q: ours %s is not a JSON string: %v", s, ours, err)
		}
		std, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%q: ours decodes to %q, encoding/json's to %q", s, got, want)
		}
		for _, r := range string(ours) {
			if r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F || r == 0xFFFE || r == 0xFFFF || r == 0x2028 || r == 0x2029 {
				t.Fatalf("%q: ours %s carries %U raw", s, ours, r)
			}
		}
		if !utf8.Valid(ours) {
			t.Fatalf("%q: ours %s is not valid UTF-8", s, ours)
		}
	})
}
