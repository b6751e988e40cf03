package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"sigs.k8s.io/kustomize/kyaml/kio"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

func exampleLayers(t testing.TB) []config.Layer {
	t.Helper()
	all, err := layerfile.ReadLayerFiles([]string{"../../examples/layers"})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := config.SelectLayers(all, "dev-k3s", "")
	if err != nil {
		t.Fatal(err)
	}
	return layers
}

func renderLayers(t testing.TB, layers []config.Layer, opts render.Options, format string) []byte {
	t.Helper()
	model, err := validate.Resolve(layers, "dev-k3s")
	if err != nil {
		t.Fatal(err)
	}
	opts.Format = format
	out, err := render.Render(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDeterministic: the order entries arrive in (DynamoDB pages, file order) never changes
// the output.
func TestDeterministic(t *testing.T) {
	layers := exampleLayers(t)
	want := renderLayers(t, layers, render.Options{}, render.FormatJSON)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		shuffled := make([]config.Layer, len(layers))
		for j, l := range layers {
			entries := append([]config.Entry(nil), l.Entries...)
			rng.Shuffle(len(entries), func(a, b int) { entries[a], entries[b] = entries[b], entries[a] })
			shuffled[j] = config.Layer{Ref: l.Ref, Version: l.Version, Entries: entries}
		}
		if got := renderLayers(t, shuffled, render.Options{}, render.FormatJSON); !bytes.Equal(got, want) {
			t.Fatalf("render %d differs after shuffling entries", i)
		}
	}
}

// TestJSONAndYAMLCarryTheSameObjects: Argo CD parses either; both must describe the same objects.
func TestJSONAndYAMLCarryTheSameObjects(t *testing.T) {
	layers := exampleLayers(t)
	js := renderLayers(t, layers, render.Options{}, render.FormatJSON)
	ys := renderLayers(t, layers, render.Options{}, render.FormatYAML)
	var fromJSON []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(js)), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, line)
		}
		fromJSON = append(fromJSON, obj)
	}
	nodes, err := kio.FromBytes(ys)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != len(fromJSON) {
		t.Fatalf("%d YAML objects, %d JSON objects", len(nodes), len(fromJSON))
	}
	for i, n := range nodes {
		s, _ := n.String()
		var obj map[string]any
		if err := sigsyaml.Unmarshal([]byte(s), &obj); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(obj, fromJSON[i]) {
			t.Errorf("object %d differs:\nyaml: %v\njson: %v", i, obj, fromJSON[i])
		}
	}
}

func TestEveryObjectIsNamespacedAndUnstamped(t *testing.T) {
	out := renderLayers(t, exampleLayers(t), render.Options{}, render.FormatJSON)
	clusterScoped := map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true, "IPPool": true, "GlobalNetworkPolicy": true, "BGPConfiguration": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatal(err)
		}
		for k := range obj.Metadata.Annotations {
			if strings.HasPrefix(k, "dynamo-cmp.io/") {
				t.Errorf("%s %s: annotation %s: nothing of dynamo-cmp's own may churn objects", obj.Kind, obj.Metadata.Name, k)
			}
		}
		if !clusterScoped[obj.Kind] && obj.Metadata.Namespace == "" {
			t.Errorf("%s %s: namespaced object without metadata.namespace", obj.Kind, obj.Metadata.Name)
		}
		isCalico := strings.HasPrefix(obj.APIVersion, "projectcalico.org/")
		if got := obj.Metadata.Annotations[render.SyncOptionsAnnotation]; isCalico != (got == render.SkipDryRunOption) {
			t.Errorf("%s %s: sync options %q", obj.Kind, obj.Metadata.Name, got)
		}
	}
}

func TestComponents(t *testing.T) {
	layers := exampleLayers(t)
	kindsOf := func(components ...string) []string {
		out := renderLayers(t, layers, render.Options{Components: components}, render.FormatJSON)
		seen := map[string]bool{}
		var kinds []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var obj struct{ Kind string }
			_ = json.Unmarshal([]byte(line), &obj)
			if !seen[obj.Kind] {
				seen[obj.Kind] = true
				kinds = append(kinds, obj.Kind)
			}
		}
		return kinds
	}
	tests := map[string][]string{
		"namespaces": {"Namespace", "LimitRange", "ResourceQuota"},
		"rbac":       {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"},
		"network":    {"NetworkPolicy"},
		"calico":     {"BGPConfiguration", "GlobalNetworkPolicy", "IPPool", "NetworkPolicy"},
		"addons":     {"Application"},
	}
	for component, want := range tests {
		if got := kindsOf(component); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: kinds %v, want %v", component, got, want)
		}
	}
	model, _ := validate.Resolve(layers, "dev-k3s")
	if _, err := render.Render(model, render.Options{Components: []string{"manifests"}}); !errors.Is(err, render.ErrNoObjects) {
		t.Errorf("a component without objects must fail with ErrNoObjects, got %v", err)
	}
	if _, err := render.Render(model, render.Options{Components: []string{"secrets"}}); err == nil || !strings.Contains(err.Error(), `unknown component "secrets"`) {
		t.Errorf("unknown component: %v", err)
	}
}

func TestEmptyConfigurationIsAnError(t *testing.T) {
	layers, _ := layerfile.ParseLayers("x", []byte("layer: cluster/dev-k3s\ncluster: {environment: dev, region: r}\n"))
	model, err := validate.Resolve(layers, "dev-k3s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.Render(model, render.Options{}); !errors.Is(err, render.ErrNoObjects) {
		t.Fatalf("want ErrNoObjects, got %v", err)
	}
}

// TestPatchErrors: the problems only rendering finds name the layer that set the offending
// field, the entry and the field, like every other validation problem.
func TestPatchErrors(t *testing.T) {
	const cluster = "layer: cluster/dev-k3s\ncluster: {environment: dev, region: r}\nnamespaces: [{namespace: a}]\n"
	tests := []struct {
		name, global, cluster, want string
	}{
		{"target matches nothing", "", `patches: [{name: p, target: {kind: Deployment}, strategicMerge: {spec: {}}}]`,
			"cluster/dev-k3s: patches[p].target: kind Deployment matches no rendered object"},
		{"identity change", "", `patches: [{name: p, target: {kind: Namespace}, strategicMerge: {metadata: {name: other}}}]`,
			"cluster/dev-k3s: patches[p].strategicMerge: must not change the identity of Namespace a (it became Namespace other)"},
		{"operation fails", "", `patches: [{name: p, target: {kind: Namespace}, json6902: [{op: remove, path: /spec/nothing}]}]`,
			"cluster/dev-k3s: patches[p].json6902: applying to Namespace a: "},
		{"target set by a lower layer", `patches: [{name: p, target: {kind: Deployment}, strategicMerge: {spec: {}}}]`, "",
			"global: patches[p].target: kind Deployment matches no rendered object"},
		{"target overridden by a higher layer", `patches: [{name: p, target: {kind: Namespace}, strategicMerge: {spec: {}}}]`,
			`patches: [{name: p, target: {kind: Deployment}}]`,
			"cluster/dev-k3s: patches[p].target: kind Deployment matches no rendered object"},
		{"operations set by a lower layer", `patches: [{name: p, target: {kind: Namespace}, json6902: [{op: remove, path: /spec/nothing}]}]`,
			`patches: [{name: p, target: {kind: Namespace, name: a}}]`,
			"global: patches[p].json6902: applying to Namespace a: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers, err := layerfile.ParseLayers("x", []byte("layer: global\n"+tt.global+"\n---\n"+cluster+tt.cluster+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			model, err := validate.Resolve(layers, "dev-k3s")
			if err != nil {
				t.Fatal(err)
			}
			_, err = render.Render(model, render.Options{})
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0].Error(), tt.want) {
				t.Errorf("want one problem %q..., got %v", tt.want, err)
			}
		})
	}
}

// TestPatchedObjectsAreValidatedAsWritten (issue 20, item 2): a patch cannot turn an object
// that passed validation into one that validation refuses when written directly — a custom
// "Secret" patched into core v1, a namespaced object patched out of its namespace, a label
// no API server accepts.
func TestPatchedObjectsAreValidatedAsWritten(t *testing.T) {
	const cluster = "layer: cluster/dev-k3s\ncluster: {environment: dev, region: r}\nnamespaces: [{namespace: a}]\n"
	const secret = "manifests: [{apiVersion: evil.example/v1, kind: Secret, metadata: {name: s, namespace: kube-system}, data: {token: c2VjcmV0}}]\n"
	tests := []struct {
		name, layer, want string
	}{
		{"strategic merge to core v1", secret + `patches: [{name: p, target: {kind: Secret}, strategicMerge: {apiVersion: v1}}]`,
			"cluster/dev-k3s: patches[p].strategicMerge: must not change the apiVersion of Secret kube-system/s (evil.example/v1 became v1)"},
		{"strategic merge replacing the whole object", secret + `patches: [{name: p, target: {kind: Secret, group: evil.example}, strategicMerge: {$patch: replace, apiVersion: v1, kind: Secret, metadata: {name: s, namespace: kube-system}, data: {token: c2VjcmV0}}}]`,
			"cluster/dev-k3s: patches[p].strategicMerge: must not change the apiVersion of Secret kube-system/s (evil.example/v1 became v1)"},
		{"json6902 copying the kind over the labels", secret + `patches: [{name: p, target: {kind: Secret}, json6902: [{op: copy, from: /kind, path: /metadata/labels}]}]`,
			"cluster/dev-k3s: patches[p].json6902: makes Secret kube-system/s invalid: metadata.labels: "},
		{"label value no API server accepts", `patches: [{name: p, target: {kind: Namespace}, strategicMerge: {metadata: {labels: {team: "a b"}}}}]`,
			"cluster/dev-k3s: patches[p].strategicMerge: makes Namespace a invalid: metadata.labels.team: \"a b\" is not a valid label value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers, err := layerfile.ParseLayers("x", []byte(cluster+tt.layer+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			model, err := validate.Resolve(layers, "dev-k3s")
			if err != nil {
				t.Fatal(err)
			}
			out, err := render.Render(model, render.Options{})
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0].Error(), tt.want) {
				var stream string
				if out != nil {
					stream = string(out.Bytes())
				}
				t.Errorf("want one problem %q..., got %v\n%s", tt.want, err, stream)
			}
		})
	}
}

// TestPatchedObjectsKeepTheirEntryRules: the re-validation of a patched object does not apply
// the rules of extra manifests to what its own entry allows: a ClusterRole named "team:reader"
// (an RBAC name, not a DNS name) can be patched.
func TestPatchedObjectsKeepTheirEntryRules(t *testing.T) {
	layers, err := layerfile.ParseLayers("x", []byte(`layer: cluster/dev-k3s
cluster: {environment: dev, region: r}
clusterRoles: [{name: "team:reader", rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}]
patches: [{name: p, target: {kind: ClusterRole}, strategicMerge: {metadata: {labels: {patched: "yes"}}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	model, err := validate.Resolve(layers, "dev-k3s")
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(model, render.Options{})
	if err != nil {
		t.Fatalf("patching ClusterRole team:reader: %v", err)
	}
	if !strings.Contains(string(out.Bytes()), `"patched":"yes"`) {
		t.Errorf("not patched:\n%s", out.Bytes())
	}
}
