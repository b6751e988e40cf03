package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// splitLayers is a cluster split into Applications by component, as the shipped
// ApplicationSets do, with patches whose targets live in different components.
const splitLayers = `
layer: cluster/split
cluster: {environment: prod, region: eu-west-1}
namespaces:
  - namespace: web
    resourceQuota: {cpu: "4", memory: 8Gi}
    defaultDeny: true
addons:
  - name: ingress
    namespace: ingress
    chart: {repoURL: https://charts.example.com, chart: ingress, version: "1.0.0"}
patches:
  - name: bigger-quota
    target: {kind: ResourceQuota, namespace: web}
    strategicMerge: {spec: {hard: {cpu: "16"}}}
  - name: addon-wave
    target: {kind: Application}
    json6902:
      - {op: add, path: /metadata/annotations, value: {argocd.argoproj.io/sync-wave: "5"}}
`

func resolveSplit(t *testing.T, extra string) *config.Model {
	t.Helper()
	layers, err := layerfile.ParseLayers("split.yaml", []byte(splitLayers+extra))
	if err != nil {
		t.Fatal(err)
	}
	model, err := validate.Resolve(layers, "split")
	if err != nil {
		t.Fatal(err)
	}
	return model
}

// objectsByID splits a JSON stream into its objects, keyed "Kind namespace/name".
func objectsByID(t *testing.T, stream []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(stream)), "\n") {
		var obj struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		out[obj.Kind+" "+obj.Metadata.Namespace+"/"+obj.Metadata.Name] = line
	}
	return out
}

// TestComponentRenderChecksPatchesOnTheFullRender: a patch whose target is in another
// component neither fails a component-restricted render nor leaks into it; each
// component's objects are exactly the ones the full render holds, patched alike.
func TestComponentRenderChecksPatchesOnTheFullRender(t *testing.T) {
	model := resolveSplit(t, "")
	full, err := render.Render(model, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := objectsByID(t, full.Bytes())
	if q := all["ResourceQuota web/prod-quota"]; !strings.Contains(q, `"cpu":"16"`) {
		t.Fatalf("full render: the quota is not patched: %s", q)
	}
	seen := map[string]bool{}
	for _, component := range []string{"namespaces", "network", "addons"} {
		out, err := render.Render(model, render.Options{Components: []string{component}})
		if err != nil {
			t.Errorf("components [%s]: %v", component, err)
			continue
		}
		for id, obj := range objectsByID(t, out.Bytes()) {
			if seen[id] {
				t.Errorf("components [%s]: %s rendered by another component too", component, id)
			}
			seen[id] = true
			if all[id] != obj {
				t.Errorf("components [%s]: %s differs from the full render:\n got  %s\n want %s", component, id, obj, all[id])
			}
		}
	}
	if len(seen) != len(all) {
		t.Errorf("the components together render %d objects, the full render %d", len(seen), len(all))
	}
}

// TestComponentRenderStillRefusesBadPatches: what fails a full render fails every
// component-restricted render too, whichever component the patch's target is in.
func TestComponentRenderStillRefusesBadPatches(t *testing.T) {
	tests := map[string]struct{ patch, want string }{
		"target matches nothing": {`
  - name: typo
    target: {kind: ResourceQuota, namespace: wbe}
    strategicMerge: {spec: {hard: {cpu: "1"}}}
`, "cluster/split: patches[typo].target: kind ResourceQuota namespace wbe matches no rendered object"},
		"fails on an object of another component": {`
  - name: broken
    target: {kind: Namespace}
    json6902: [{op: remove, path: /spec/nothing}]
`, "cluster/split: patches[broken].json6902: applying to Namespace web:"},
	}
	for name, tt := range tests {
		model := resolveSplit(t, tt.patch)
		for _, components := range [][]string{nil, {"addons"}, {"namespaces"}, {"network", "addons"}} {
			_, err := render.Render(model, render.Options{Components: components})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s, components %v: want %q, got %v", name, components, tt.want, err)
			}
		}
	}
}
