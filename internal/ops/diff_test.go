package ops_test

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
)

// TestUnified: the diff of an added, removed or changed entry reads as git's would: no blank
// context line, hunk ranges of an absent side at 0,0.
func TestUnified(t *testing.T) {
	tests := []struct {
		name string
		c    ops.Change
		want string
	}{
		{"added", ops.Change{Kind: "namespace", Key: "team", Op: "added", After: "namespace: team\nlabels:\n  a: b\n"},
			"--- /dev/null\n+++ b/namespace/team\n@@ -0,0 +1,3 @@\n+namespace: team\n+labels:\n+  a: b\n"},
		{"removed", ops.Change{Kind: "namespace", Key: "team", Op: "removed", Before: "namespace: team\n"},
			"--- a/namespace/team\n+++ /dev/null\n@@ -1 +0,0 @@\n-namespace: team\n"},
		{"changed", ops.Change{Kind: "namespace", Key: "team", Op: "changed", Before: "namespace: team\ncpu: \"4\"\n", After: "namespace: team\ncpu: \"6\"\n"},
			"--- a/namespace/team\n+++ b/namespace/team\n@@ -1,2 +1,2 @@\n namespace: team\n-cpu: \"4\"\n+cpu: \"6\"\n"},
		{"no final newline", ops.Change{Kind: "k", Key: "x", Op: "added", After: "a\nb"},
			"--- /dev/null\n+++ b/k/x\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Unified(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
