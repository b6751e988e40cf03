package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

const root = "../../../.."

var schemaFile = filepath.Join(root, "schema", "layer.schema.json")

// TestSchemaUpToDate fails when the committed schema differs from what the types generate.
func TestSchemaUpToDate(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what layerfile.Document and the config types generate: run go generate ./pkg/layerfile", schemaFile)
	}
}

// TestDocumentCoversSections keeps layerfile.Document equal to what the parser reads: every
// section of config.Sections, and no other field than apiVersion, kind and layer.
func TestDocumentCoversSections(t *testing.T) {
	fields := func(v any, prefix string) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out = append(out, prefix+name)
		}
		return out
	}
	got := fields(layerfile.Document{}, "")
	got = slices.DeleteFunc(got, func(s string) bool { return s == "calico" })
	got = append(got, fields(layerfile.Calico{}, "calico.")...)
	want := []string{"apiVersion", "kind", "layer"}
	for _, s := range config.Sections() {
		want = append(want, s.Section)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("layerfile.Document has fields %v, the parser reads %v", got, want)
	}
}

func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(ID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// instance converts one YAML document to the JSON value the validator takes.
func instance(t *testing.T, doc string) any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExampleLayersValidate: every layer document in the repository's examples, docs and
// test data that the parser accepts validates against the committed schema, so an editor
// using it flags none of them.
func TestExampleLayersValidate(t *testing.T) {
	s := compile(t)
	var checked int
	for _, dir := range []string{"examples", "docs", "manifests", "pkg", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := filepath.Ext(path)
			if d.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") || strings.Contains(path, string(filepath.Separator)+"fuzz"+string(filepath.Separator)) {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, doc := range docSeparator.Split(string(data), -1) {
				if !regexp.MustCompile(`(?m)^(kind: Layer|layer: )|"kind": *"Layer"`).MatchString(doc) {
					continue
				}
				if _, err := layerfile.ParseLayers(path, []byte(doc)); err != nil {
					continue // a test's invalid input
				}
				checked++
				if err := s.Validate(instance(t, doc)); err != nil {
					t.Errorf("%s (document %d): %v", path, i+1, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d layer documents found to check", checked)
	}
	t.Logf("%d layer documents valid", checked)
}

// TestSchemaRefuses: the schema flags what the decoder refuses, field by field, where an
// editor shows it.
func TestSchemaRefuses(t *testing.T) {
	s := compile(t)
	for name, doc := range map[string]string{
		"misspelled field":   "layer: global\nnamespaces:\n  - namespace: a\n    lables: {team: x}\n",
		"unknown section":    "layer: global\nnamespace: []\n",
		"bad directive":      "layer: global\nnamespaces:\n  - namespace: a\n    $patch: remove\n",
		"list for a map":     "layer: global\nsettings:\n  commonLabels: [a]\n",
		"string for a bool":  "layer: global\naddons:\n  - name: a\n    enabled: \"yes\"\n",
		"wrong apiVersion":   "apiVersion: v1\nlayer: global\n",
		"malformed layer":    "layer: clusters/a\n",
		"map for a quantity": "layer: global\nnamespaces:\n  - namespace: a\n    resourceQuota: {cpu: {a: b}}\n",
	} {
		if err := s.Validate(instance(t, doc)); err == nil {
			t.Errorf("%s: the schema accepts\n%s", name, doc)
		}
	}
}
