package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// renderFiles renders the one cluster layer found in the inputs, as `dynamo-cmp render` does.
func renderFiles(t *testing.T, format string, inputs ...string) []byte {
	t.Helper()
	all, err := layerfile.ReadLayerFiles(inputs)
	if err != nil {
		t.Fatalf("read layers: %v", err)
	}
	var cluster string
	for _, l := range all {
		if l.Ref.Scope == config.ScopeCluster {
			cluster = l.Ref.Name
		}
	}
	layers, err := config.SelectLayers(all, cluster, "")
	if err != nil {
		t.Fatal(err)
	}
	model, err := validate.Resolve(layers, cluster)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	out, err := render.Render(model, render.Options{Format: format})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out.Bytes()
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update after checking the change):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// TestGolden renders every testdata/<case>/input and compares with testdata/<case>/expected.yaml.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/input")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, in := range cases {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			compareGolden(t, filepath.Join(dir, "expected.yaml"), renderFiles(t, render.FormatYAML, in))
		})
	}
	t.Run("example", func(t *testing.T) {
		compareGolden(t, "testdata/example/expected.yaml", renderFiles(t, render.FormatYAML, "../../examples/layers"))
	})
	t.Run("seed-json", func(t *testing.T) {
		compareGolden(t, "testdata/seed/expected.json", renderFiles(t, render.FormatJSON, "testdata/seed/input"))
	})
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			if shown++; shown == 10 {
				break
			}
		}
	}
	return b.String()
}
