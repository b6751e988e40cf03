package traceid

import (
	"encoding/hex"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := New()
		if len(id) != 16 {
			t.Fatalf("New() = %q, want 16 hex digits", id)
		}
		if _, err := hex.DecodeString(id); err != nil {
			t.Fatalf("New() = %q is not hex: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("New() returned %q twice", id)
		}
		seen[id] = true
	}
}
