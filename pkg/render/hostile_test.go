package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/hostiletest"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Values crafted to break YAML (document markers, anchors, tags, quotes, line separators,
// strings YAML 1.1 reads as numbers or null) render as exactly the objects configured, in
// both formats, and every value reads back, as Argo CD reads it, as the same string.
func TestYAMLBreakingValuesRenderVerbatim(t *testing.T) {
	checkVerbatim(t, hostiletest.YAMLBreakers, splitAsArgoCD)
}

// "yes", "on", "n" ... must stay strings for YAML 1.1 readers (Argo CD, kubectl).
func TestYAML11BooleanStringsStayStrings(t *testing.T) {
	checkVerbatim(t, hostiletest.YAML11Booleans, splitAsArgoCD)
}

// Characters YAML excludes or reads as line breaks must be escaped in the JSON stream too:
// Argo CD parses each JSON object with sigs.k8s.io/yaml. (A YAML stream cannot carry them
// through Argo CD at all, however it is escaped: Argo CD converts each YAML document to JSON,
// which leaves them raw, and parses that JSON as YAML again. So the YAML stream is only
// checked to be correct YAML.)
func TestYAMLSpecialCharactersRenderVerbatim(t *testing.T) {
	checkVerbatim(t, hostiletest.YAMLSpecialCharacters, splitYAML)
}

// checkVerbatim renders a namespace and a config map carrying values (as labels where valid,
// annotations and data) in both formats and reads them back: the JSON stream as Argo CD
// does, the YAML stream with readYAML.
func checkVerbatim(t *testing.T, values []string, readYAML func([]byte) ([]map[string]any, error)) {
	annotations := map[string]any{}
	data := map[string]any{}
	labels := map[string]any{}
	for i, v := range values {
		if strings.Contains(v, "${") {
			continue // a variable reference, substituted on purpose
		}
		key := fmt.Sprintf("example.com/v%02d", i)
		annotations[key] = v
		data[fmt.Sprintf("v%02d", i)] = v
		if isLabelValue(v) {
			labels[key] = v
		}
	}
	ns, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "a", "labels": labels, "annotations": annotations})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := config.NewEntry(config.KindManifest, map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "breakers", "namespace": "a", "annotations": annotations},
		"data": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := config.NewEntry(config.KindCluster, map[string]any{"name": "c", "environment": "dev", "region": "r"})
	if err != nil {
		t.Fatal(err)
	}
	model, err := validate.Resolve([]config.Layer{{Ref: config.ClusterLayer("c"), Version: 1, Entries: []config.Entry{cluster, ns, cm}}}, "c")
	if err != nil {
		t.Fatalf("values that are valid for Kubernetes were refused: %v", err)
	}

	for _, format := range []string{render.FormatJSON, render.FormatYAML} {
		t.Run(format, func(t *testing.T) {
			var out *render.Manifests
			hostiletest.Bounded(t, 64*hostiletest.MB, func() { out, err = render.Render(model, render.Options{Format: format}) })
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			defer func() {
				if len(problems) > 0 {
					t.Error(strings.Join(problems, "\n"))
				}
			}()
			read := splitAsArgoCD
			if format == render.FormatYAML {
				read = readYAML
			}
			objs, err := read(out.Bytes())
			if err != nil {
				problems = append(problems, fmt.Sprintf("Argo CD could not read the %s stream: %v", format, err))
				return
			}
			if len(objs) != out.Len() || out.Len() != 2 {
				t.Fatalf("%d objects parsed, %d rendered; want the namespace and the config map only", len(objs), out.Len())
			}
			for _, obj := range objs {
				meta, _ := obj["metadata"].(map[string]any)
				kind := obj["kind"]
				if kind != "Namespace" && kind != "ConfigMap" {
					t.Fatalf("unexpected object %v", kind)
				}
				problems = append(problems, differences(fmt.Sprint(kind, " annotations"), annotations, meta["annotations"])...)
				if kind == "Namespace" {
					problems = append(problems, differences("labels", labels, meta["labels"])...)
				} else {
					problems = append(problems, differences("data", data, obj["data"])...)
				}
			}
			if format == render.FormatJSON && bytes.Count(out.Bytes(), []byte("\n")) != 2 {
				t.Errorf("JSON output is not one object per line:\n%s", out.Bytes())
			}
		})
	}
}

// splitAsArgoCD reads a manifest stream the way Argo CD reads a plugin's output
// (gitops-engine's kube.SplitYAML): a YAML-or-JSON decoder splits it into raw objects and
// each is unmarshalled with sigs.k8s.io/yaml.
func splitAsArgoCD(stream []byte) ([]map[string]any, error) {
	d := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var objs []map[string]any
	for {
		var ext json.RawMessage // what runtime.RawExtension keeps
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("failed to unmarshal manifest: %w", err)
		}
		raw := bytes.TrimSpace(ext)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("failed to unmarshal manifest: %w", err)
		}
		objs = append(objs, obj)
	}
}

// splitYAML reads a YAML stream once, with kyaml.
func splitYAML(stream []byte) ([]map[string]any, error) {
	nodes, err := kio.FromBytes(stream)
	if err != nil {
		return nil, err
	}
	objs := make([]map[string]any, len(nodes))
	for i, n := range nodes {
		raw, err := n.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &objs[i]); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// differences lists the configured values that did not come back as the same string.
func differences(what string, want map[string]any, got any) []string {
	m, _ := got.(map[string]any)
	var out []string
	for k, v := range want {
		g, ok := m[k]
		if !ok {
			out = append(out, fmt.Sprintf("%s: %s is missing", what, k))
			continue
		}
		if s, isString := g.(string); !isString || s != v {
			out = append(out, fmt.Sprintf("%s: %s = %#v (%T), want the string %q", what, k, g, g, v))
		}
	}
	sort.Strings(out)
	return out
}

func isLabelValue(v string) bool {
	if v == "" {
		return true
	}
	if len(v) > 63 || !alnum(v[0]) || !alnum(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
