package layerfile_test

import (
	"errors"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dynamo-cmp/dynamo-cmp/internal/hostiletest"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// maxMessage bounds an error message: it ends up in one paragraph in Argo CD's UI.
const maxMessage = 8 << 10

// pipeline is what render and generate do with layer documents: decode, select, merge,
// validate, render. It returns the number of objects rendered.
func hostilePipeline(data []byte) (int, error) {
	layers, err := layerfile.ParseLayers("hostile.yaml", data)
	if err != nil {
		return 0, err
	}
	sel, err := config.SelectLayers(layers, "c", "")
	if err != nil {
		return 0, err
	}
	model, err := validate.Resolve(sel, "c")
	if err != nil {
		return 0, err
	}
	out, err := render.Render(model, render.Options{Format: render.FormatYAML})
	if err != nil {
		return 0, err
	}
	return out.Len(), nil
}

// checkMessage asserts what every hostile input's error must be: present, saying want,
// bounded in size, and each problem on one line (no raw newline from the input).
func checkHostileMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error saying %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error does not say %q: %.500s", want, msg)
	}
	var problems []string
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			problems = append(problems, p.Error())
		}
	} else {
		problems = []string{msg}
	}
	var bad []string
	if len(msg) > maxMessage {
		bad = append(bad, fmt.Sprintf("the message has %d bytes", len(msg)))
	}
	for _, p := range problems {
		if strings.ContainsAny(p, "\n\r") {
			bad = append(bad, "a problem spans several lines: "+hostileTruncate(p, 200))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s", strings.Join(bad, "; "))
	}
}

func TestHostileLayerDocuments(t *testing.T) {
	big := strings.Repeat("a", 1<<20)
	tests := []struct {
		name     string
		data     []byte
		want     string
		maxAlloc uint64
	}{
		{name: "billion laughs", data: hostiletest.AliasBomb(9, 10), want: "excessive aliasing", maxAlloc: 16 * hostiletest.MB},
		{name: "alias bomb, wide", data: hostiletest.AliasBomb(3, 1000), want: "excessive aliasing", maxAlloc: 64 * hostiletest.MB},
		{name: "a few aliases", data: hostiletest.AliasBomb(2, 3), want: "annotations.x1: must be a string", maxAlloc: 16 * hostiletest.MB},
		{name: "flow lists nested 100,000 deep", data: hostiletest.NestedFlow(100_000), want: "exceeded max depth", maxAlloc: 64 * hostiletest.MB},
		{name: "JSON maps nested 100,000 deep", data: hostiletest.NestedJSON(100_000), want: "exceeded max depth", maxAlloc: 64 * hostiletest.MB},
		{name: "block maps nested 2,000 deep", data: hostiletest.NestedBlock(2000), want: "namespaces: must be a list, not a map", maxAlloc: 100 * hostiletest.MB},
		{name: "1 MB namespace name", want: "is not a valid name", maxAlloc: 100 * hostiletest.MB,
			data: []byte("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: " + big + "\n")},
		{name: "1 MB label key", want: "is not a valid label key", maxAlloc: 100 * hostiletest.MB,
			data: []byte("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    labels:\n      ? " + big + "\n      : x\n")},
		{name: "10 MB annotation", want: "more than Kubernetes' limit of 262144", maxAlloc: 200 * hostiletest.MB,
			data: []byte("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    annotations: {x: " + strings.Repeat("b", 10<<20) + "}\n")},
		{name: "100,000 empty documents", data: []byte(strings.Repeat("---\n", 100_000)), want: "no layer cluster/c", maxAlloc: 64 * hostiletest.MB},
		{name: "a huge list of a scalar", want: "must be a list", maxAlloc: 100 * hostiletest.MB,
			data: []byte("layer: cluster/c\nnamespaces: " + strings.Repeat("x", 8<<20) + "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			alloc := hostiletest.Bounded(t, tt.maxAlloc, func() { _, err = hostilePipeline(tt.data) })
			t.Logf("%d bytes in, %.1f MB allocated", len(tt.data), float64(alloc)/hostiletest.MB)
			checkHostileMessage(t, err, tt.want)
		})
	}
}

// A document nested deep, but within the decoder's limit, goes all the way through.
func TestDeepButLegalDocumentRenders(t *testing.T) {
	var n int
	var err error
	hostiletest.Bounded(t, 200*hostiletest.MB, func() { n, err = hostilePipeline(hostiletest.NestedJSON(5000)) })
	if err != nil || n != 2 {
		t.Fatalf("rendered %d objects, err %v; want the namespace and the deep manifest", n, err)
	}
}

// A layer file larger than layerfile.MaxFileSize is refused before it is parsed.
func TestHugeLayerFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: no disk is spent on it.
	if err := f.Truncate(layerfile.MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	hostiletest.Bounded(t, 3*layerfile.MaxFileSize, func() { _, err = layerfile.ReadLayerFiles([]string{path}) })
	checkHostileMessage(t, err, "larger than 64 MiB; split the layer into several files")
}

// Names that try path traversal, carry newlines or shell syntax are refused wherever a
// name is taken: namespace, cluster (layer reference and record) and environment.
func TestHostileNames(t *testing.T) {
	for _, name := range hostiletest.BadNames {
		t.Run(strings.NewReplacer("/", "_", "\n", `\n`).Replace(hostileTruncate(name, 20)), func(t *testing.T) {
			var err error
			hostiletest.Bounded(t, 16*hostiletest.MB, func() {
				_, err = hostilePipeline([]byte("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: " + hostileQuote(name) + "\n"))
			})
			want := "is not a valid name"
			if strings.Contains(name, "${") {
				want = "unknown variable" // reported once, as the reference it is
			}
			checkHostileMessage(t, err, want)

			hostiletest.Bounded(t, 16*hostiletest.MB, func() { _, err = config.ParseLayerRef("cluster/" + name) })
			if err == nil {
				t.Errorf("layer reference cluster/%q accepted", name)
			} else if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("layer reference error spans lines: %q", err)
			}
			hostiletest.Bounded(t, 16*hostiletest.MB, func() {
				_, err = hostilePipeline([]byte("layer: cluster/c\ncluster: {environment: " + hostileQuote(name) + ", region: r}\nnamespaces: [{namespace: a}]\n"))
			})
			if err == nil {
				t.Errorf("environment %q accepted", name)
			}
		})
	}
}

// Label values that would break a YAML writer are refused unless they are valid label
// values (the render tests check those come out as the same strings).
func TestYAMLBreakingLabelValues(t *testing.T) {
	for _, v := range hostiletest.YAMLBreakers {
		if strings.Contains(v, "${") {
			continue // a variable reference: substituted before validation
		}
		e, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "a", "labels": map[string]any{"l": v}})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		_, err = validate.Resolve([]config.Layer{{Ref: config.ClusterLayer("c"), Version: 1, Entries: []config.Entry{e, hostileClusterEntry(t)}}}, "c")
		valid := v == "" || len(v) <= 63 && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" &&
			!strings.ContainsAny(v[:1], "-_.") && !strings.ContainsAny(v[len(v)-1:], "-_.")
		switch {
		case valid && err != nil:
			t.Errorf("valid label value %q refused: %v", v, err)
		case !valid && err == nil:
			t.Errorf("label value %q accepted", v)
		case !valid:
			checkHostileMessage(t, err, "is not a valid label value")
		}
	}
}

func hostileClusterEntry(t *testing.T) config.Entry {
	t.Helper()
	e, err := config.NewEntry(config.KindCluster, map[string]any{"name": "c", "environment": "dev", "region": "r"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// yamlQuote writes s as a double-quoted YAML scalar (YAML's escapes are a superset of
// JSON's, so a JSON string is one).
func hostileQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x202e:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hostileTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// A long name or reference is shortened in the message that quotes it, and never inside a
// character: a cut through a multi-byte character leaves invalid UTF-8, which Argo CD's UI
// shows as garbage and JSON logs escape.
func TestShortenedNamesStayValidUTF8(t *testing.T) {
	long := "x" + strings.Repeat("é", 100) // an odd byte offset: every byte cut lands inside an é
	for _, tc := range []struct{ name, doc string }{
		{"unknown variable", "layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    annotations: {a: \"${" + long + "}\"}\n"},
		{"unterminated reference", "layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    annotations: {a: \"${" + long + "\"}\n"},
		{"invalid name", "layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: " + long + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hostilePipeline([]byte(tc.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.Contains(msg, `\xc3`) { // \xc3: a cut é, quoted
				t.Errorf("the message cuts a character: %q", msg)
			}
			if !strings.Contains(err.Error(), "…") {
				t.Errorf("the name is not shortened: %.300s", err.Error())
			}
		})
	}
}
