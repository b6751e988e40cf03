package layerfile_test

import (
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestReadLayerFilesErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content, want string
	}{
		{"no layer", "namespaces: []\n", `"layer" is required`},
		{"bad layer", "layer: team/x\n", `layer "team/x": must be "global", "env/<environment>" or "cluster/<name>"`},
		{"bad layer name", "layer: cluster/Prod_1\n", `layer "cluster/Prod_1": "Prod_1" is not a valid name`},
		{"unknown section", "layer: global\nnamespace: []\n", `global: unknown field "namespace"`},
		{"unknown calico section", "layer: global\ncalico: {pools: []}\n", `global: calico: unknown field "pools"`},
		{"list expected", "layer: global\nnamespaces: {a: 1}\n", `global: namespaces: must be a list, not a map`},
		{"cluster record outside cluster layer", "layer: env/dev\ncluster: {environment: dev}\n", `env/dev: cluster: only a cluster/<name> layer holds the cluster record`},
		{"cluster record for another cluster", "layer: cluster/a\ncluster: {name: b}\n", `cluster/a: cluster.name: b does not match the layer's cluster "a"`},
		{"yaml syntax", "layer: global\nnamespaces: [\n", `yaml:`},
		{"duplicate key", "layer: global\nlayer: env/dev\n", `already defined`},
		{"not a map", "- a\n- b\n", `a layer document must be a map`},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\ni: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n", `excessive aliasing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tt.name, " ", "-")+".yaml", tt.content)
			_, err := layerfile.ReadLayerFiles([]string{p})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("the error should name the file %s: %v", p, err)
			}
		})
	}
}

func TestReadLayerFilesDirectoryOrderAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b/second.yaml": "layer: global\nnamespaces: [{namespace: b}]\n",
		"a/first.yml":   "layer: global\nnamespaces: [{namespace: a}]\n---\nlayer: env/dev\nnamespaces: [{namespace: c}]\n",
		"notes.txt":     "ignored",
		"c/data.json":   `{"layer": "cluster/x", "cluster": {"environment": "dev", "region": "r"}}`,
	} {
		p := filepath.Join(dir, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(content), 0o644)
	}
	layers, err := layerfile.ReadLayerFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range layers {
		for _, e := range l.Entries {
			got = append(got, l.Ref.String()+":"+e.ID())
		}
	}
	want := "global:namespace/a global:namespace/b env/dev:namespace/c cluster/x:cluster/x"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}

	dup := filepath.Join(dir, "b", "dup.yaml")
	_ = os.WriteFile(dup, []byte("layer: global\nnamespaces: [{namespace: a}]\n"), 0o644)
	_, err = layerfile.ReadLayerFiles([]string{dir})
	if err == nil || !strings.Contains(err.Error(), "global: namespaces[a] is already defined in "+filepath.Join(dir, "a", "first.yml")) {
		t.Fatalf("duplicate across files: %v", err)
	}
}

func TestLayerDocumentRoundTrip(t *testing.T) {
	layers, err := layerfile.ReadLayerFiles([]string{"../../examples/layers"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		text, err := layerfile.MarshalYAML(l)
		if err != nil {
			t.Fatal(err)
		}
		again, err := layerfile.ParseLayers("export", text)
		if err != nil {
			t.Fatalf("%s: exported document does not parse: %v\n%s", l.Ref, err, text)
		}
		if config.Digest(again) != config.Digest([]config.Layer{l}) {
			t.Errorf("%s: export does not round-trip:\n%s", l.Ref, text)
		}
	}
}

// Issue 18 §5: a YAML syntax error named the line where the enclosing block or flow
// collection starts, counted from 0 (line 1 for a mistake on line 3). It names the line of the
// mistake, and the collection it breaks when that starts elsewhere.
func TestYAMLSyntaxErrorLines(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"flow sequence", "layer: global\nnamespaces: [\n  {namespace: a} {namespace: b}]\n",
			`yaml: line 3: did not find expected ',' or ']' in the flow sequence that starts at line 2`},
		{"block sequence", "layer: global\nnamespaces:\n  - namespace: a\n   labels: x\n",
			`yaml: line 4: did not find expected '-' indicator in the block sequence that starts at line 3`},
		{"top-level mapping", "layer: global\nfoo: bar\n- x\n", `yaml: line 3: did not find expected key`},
		{"block mapping", "layer: global\nnamespaces:\n- namespace: a\n  labels: {a: b}}\n",
			`yaml: line 4: did not find expected key in the block mapping that starts at line 3`},
		{"after a quoted scalar", "layer: global\nnamespaces:\n  - namespace: \"a\"b\n",
			`yaml: line 3: did not find expected key`},
		{"unclosed flow mapping", "layer: global\nnamespaces:\n  - namespace: a\n    labels: {a: b\n",
			`yaml: at the end of the file: did not find expected ',' or '}' in the flow mapping that starts at line 4`},
		{"second document", "layer: global\n---\nlayer: env/dev\nnamespaces: [\n  {namespace: a} {namespace: b}]\n",
			`(document 2): yaml: line 5: did not find expected ',' or ']' in the flow sequence that starts at line 4`},
		{"at the end", "layer: [global\n", `yaml: at the end of the file: did not find expected ',' or ']'`},
		{"missing colon (scanner)", "layer: global\nfoo: bar\nbaz\n", `yaml: line 3: could not find expected ':'`},
		{"tab (scanner)", "layer: global\n\tfoo: 1\n", `yaml: line 2: found a tab character that violates indentation`},
		{"unterminated quote (scanner)", "layer: global\nnamespaces:\n  - namespace: a\n    labels:\n      x: \"1\n", `yaml: line 5: found unexpected end of stream`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := layerfile.ReadLayerFiles([]string{p})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want an error containing %q, got %v", tt.want, err)
			}
		})
	}
}
