// Package hostiletest holds hostile inputs for tests — YAML alias bombs, deeply nested
// documents, huge strings, names that try path traversal or carry newlines, label values
// crafted to break YAML, parameters with shell metacharacters — and Bounded, which runs one
// input through the code under test and fails the test when it does not return in bounded
// time or allocates more than a bound. The tests that use them live next to the code they
// attack (pkg/layerfile, pkg/validate, pkg/render, internal/plugin, internal/store, internal/cli).
package hostiletest

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Guard is how long Bounded waits before it declares an input hung. It is a guard against
// a hang, not a performance assertion: every input returns in well under a second.
const Guard = time.Minute

// MB is a megabyte, for the allocation bounds.
const MB = 1 << 20

// Bounded runs fn and fails tb if it does not return within Guard or if it allocated more
// than maxAlloc bytes (runtime.MemStats.TotalAlloc, everything allocated while it ran,
// freed or not: an upper bound of its peak memory). It returns the bytes allocated. Call
// it from tests that do not run in parallel, or the bound counts their allocations too.
func Bounded(tb testing.TB, maxAlloc uint64, fn func()) uint64 {
	tb.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		fn()
	}()
	select {
	case p := <-done:
		if p != nil {
			tb.Fatalf("panic: %v", p)
		}
	case <-time.After(Guard):
		tb.Fatalf("did not return within %s", Guard)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > maxAlloc {
		tb.Errorf("allocated %.1f MB, more than the bound of %.1f MB", float64(alloc)/MB, float64(maxAlloc)/MB)
	}
	return alloc
}

// AliasBomb is a layer document whose annotation x<levels> expands to fanout^levels copies
// of a string through YAML anchors and aliases ("billion laughs" for levels 9, fanout 10).
func AliasBomb(levels, fanout int) []byte {
	var b strings.Builder
	b.WriteString("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    annotations:\n      x0: &a0 \"lol\"\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "      x%d: &a%d [", i, i)
		for j := range fanout {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

// NestedFlow is a layer document whose namespaces section is depth nested flow lists:
// [[[[...]]]].
func NestedFlow(depth int) []byte {
	return []byte("layer: cluster/c\nnamespaces: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n")
}

// NestedJSON is a JSON layer document with a manifest whose spec nests depth maps.
func NestedJSON(depth int) []byte {
	return []byte(`{"layer": "cluster/c", "cluster": {"environment": "dev", "region": "r"},
"namespaces": [{"namespace": "a"}],
"manifests": [{"apiVersion": "example.com/v1", "kind": "Deep", "metadata": {"name": "deep", "namespace": "a"}, "spec": ` +
		strings.Repeat(`{"a": `, depth) + `"bottom"` + strings.Repeat("}", depth) + `}]}`)
}

// NestedBlock is a layer document whose namespaces section nests depth block maps, each
// indented one more space.
func NestedBlock(depth int) []byte {
	var b strings.Builder
	b.WriteString("layer: cluster/c\nnamespaces:\n")
	for i := range depth {
		b.WriteString(strings.Repeat(" ", i+1))
		b.WriteString("a:\n")
	}
	return []byte(b.String())
}

// BadNames are names that must never become a namespace, a cluster or a file name: path
// traversal, separators, newlines, YAML document markers, shell syntax, control characters,
// look-alike Unicode, and too long.
var BadNames = []string{
	"../../etc/passwd", "..", ".", "a/b", `a\b`, "/abs",
	"dev\nprod", "dev\r\nprod", "dev\n---\nkind: Secret", "dev\x00", "dev\t",
	"$(id)", "`id`", "dev;rm -rf /", "dev|cat", "dev&&curl", "dev$IFS", "${HOME}", "dev>x",
	"Dev", "dev_k3s", "-dev", "dev-", "dev k3s", "dév", "dev\u2028", "dev\u202e",
	strings.Repeat("a", 64),
}

// YAMLBreakers are string values crafted to break a YAML (or JSON) writer that templates
// text: document markers, flow and block syntax, anchors, tags, comments, quotes, escapes,
// line separators, and strings YAML 1.1 would read as another type.
var YAMLBreakers = []string{
	"a\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: stolen}",
	"\n...\n", "x: y", "- item", "{a: b}", "[a, b]", "? key", ": value", "|\n  block", ">\n  folded",
	"*alias", "&anchor v", "!!binary aGVsbG8=", "!Secret", "# comment", "value # comment",
	"'", "\"", `\"`, `\`, "\\n", "%YAML 1.1", "@at", "`tick`",
	" leading space", "trailing space ", "\ttab", "line1\nline2", "\r", "\u2028\u2029", "\x00\x01\x1f", "\ufeffbom",
	"true", "False", "null", "~", "NULL", "",
	"1e3", "0x1F", "0o17", "017", "1_000", ".inf", "-.Inf", ".nan", "12:30:45", "2026-01-02", "1.0",
	"</script><script>alert(1)</script>", "${cluster.name}", "{{ .Values.x }}", "$(id)",
}

// YAML11Booleans are strings YAML 1.1 reads as booleans when they are not quoted. YAML 1.2
// writers (yaml.v3, kyaml) leave them plain, but Argo CD and kubectl read manifests with
// sigs.k8s.io/yaml, which follows YAML 1.1.
var YAML11Booleans = []string{"yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "Y", "N"}

// YAMLSpecialCharacters are characters Kubernetes accepts in strings that YAML does not allow
// raw (DEL, the C1 controls, U+FFFE, U+FFFF: outside its printable set) or reads as a line
// break (NEL, U+0085). A JSON stream that carries them unescaped is valid JSON, but Argo CD
// parses every manifest with sigs.k8s.io/yaml, which refuses the first group and folds NEL
// into a space.
var YAMLSpecialCharacters = []string{"del\x7f", "c1\u0080", "c1\u009f", "nel\u0085nel", "nonchar\ufffe", "nonchar\uffff"}

// ShellMetacharacters are parameter values a plugin that builds a shell command line would
// execute.
var ShellMetacharacters = []string{
	"$(id)", "`id`", "dev; rm -rf /", "dev | cat /etc/passwd", "dev && curl http://x", "dev || true",
	"dev > /tmp/x", "dev < /etc/passwd", "${PATH}", "$HOME", "dev\nid", "dev'", `dev"`, "dev\\",
	"*", "?", "~root", "-rf", "--help", "dev #", "!!", "dev&", "$((1+1))", "\x1b[31mred",
}
