package render_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// FuzzPipeline drives arbitrary layer documents through decode → merge → validate → render
// → encode. It must never panic, and whatever renders must parse back as Kubernetes objects
// (apiVersion, kind, metadata.name) in both output formats.
func FuzzPipeline(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/input/*.yaml")
	examples, _ := filepath.Glob("../../examples/layers/*/*.yaml")
	for _, p := range append(seeds, examples...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces: [{namespace: \"${env}-x\", labels: {a: \"${cluster.name}\"}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		layers, err := layerfile.ParseLayers("fuzz", data)
		if err != nil {
			return
		}
		var cluster string
		for _, l := range layers {
			if l.Ref.Scope == config.ScopeCluster {
				cluster = l.Ref.Name
			}
		}
		if cluster == "" {
			return
		}
		sel, err := config.SelectLayers(layers, cluster, "")
		if err != nil {
			return
		}
		model, err := validate.Resolve(sel, cluster)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		out, err := render.Render(model, render.Options{})
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(out.Bytes()), "\n"), "\n")
		if len(lines) != out.Len() {
			t.Fatalf("%d objects but %d JSON lines", out.Len(), len(lines))
		}
		for _, line := range lines {
			var obj struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("rendered line is not JSON: %v\n%s", err, line)
			}
			if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
				t.Fatalf("rendered object lacks apiVersion, kind or name: %s", line)
			}
		}
		ys, err := render.Render(model, render.Options{Format: render.FormatYAML})
		if err != nil {
			t.Fatalf("YAML rendering failed where JSON succeeded: %v", err)
		}
		back, err := kio.FromBytes(ys.Bytes())
		if err != nil || len(back) != out.Len() {
			t.Fatalf("YAML stream does not parse back into %d objects: %v", out.Len(), err)
		}
	})
}
