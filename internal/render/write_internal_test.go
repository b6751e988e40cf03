package render

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzJSONString: our string quoting must match encoding/json's (without HTML escaping).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x1f\x7f", "nl\n\r\t", "utf8 ✓ é", "bad \xff\xfe", "\u2028\u2029", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ours := appendJSONString(nil, s)
		var std bytes.Buffer
		enc := json.NewEncoder(&std)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(std.Bytes(), []byte("\n"))
		if !bytes.Equal(ours, want) {
			t.Fatalf("%q: ours %s, encoding/json %s", s, ours, want)
		}
	})
}
