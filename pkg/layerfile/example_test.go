package layerfile_test

import (
	"fmt"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

// Parse a layer file: its layer, and its entries keyed by kind and name.
func ExampleParseLayers() {
	layers, err := layerfile.ParseLayers("global.yaml", []byte(`
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: global
namespaces:
  - namespace: monitoring
    labels: {team: platform}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range layers {
		for _, e := range l.Entries {
			fmt.Println(l.Ref, e.ID(), e.Body["labels"])
		}
	}
	// Output:
	// global namespace/monitoring map[team:platform]
}

// A section the format does not know is an error naming the file and the layer.
func ExampleParseLayers_unknownSection() {
	_, err := layerfile.ParseLayers("global.yaml", []byte(`
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: global
namespace:
  - namespace: monitoring
`))
	fmt.Println(err)
	// Output:
	// global.yaml: global: unknown field "namespace" (fields: layer, cluster, settings, namespaces, roles, roleBindings, clusterRoles, clusterRoleBindings, networkPolicies, calico, addons, manifests, patches)
}
