package validate_test

import (
	"errors"
	"fmt"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
)

const layers = `
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: global
namespaces:
  - namespace: team-${cluster.name}
    resourceQuota: {hard: {cpu: "4", memory: 8Gi}}
---
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/dev-k3s
cluster: {environment: dev, region: eu-west-1}
`

// Resolve merges a cluster's layers, substitutes variables and validates the result into the
// Model that render turns into objects.
func ExampleResolve() {
	ls, err := layerfile.ParseLayers("layers.yaml", []byte(layers))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := validate.Resolve(ls, "dev-k3s")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ns := range m.Namespaces {
		fmt.Println(ns.Namespace, ns.ResourceQuota.Hard)
	}
	// Output:
	// team-dev-k3s map[cpu:4 memory:8Gi]
}

// Every problem is reported at once, each with the layer, entry and field that caused it.
func ExampleResolve_invalid() {
	ls, err := layerfile.ParseLayers("layers.yaml", []byte(layers+`
namespaces:
  - namespace: Bad_Name
  - namespace: backend
    resourceQuota: {hard: {cpu: lots}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = validate.Resolve(ls, "dev-k3s")
	var invalid *config.ValidationError
	if errors.As(err, &invalid) {
		for _, p := range invalid.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// cluster/dev-k3s: namespaces[Bad_Name].namespace: "Bad_Name" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)
	// cluster/dev-k3s: namespaces[backend].resourceQuota.hard.cpu: "lots" is not a quantity (e.g. 500m, 2, 8Gi)
}
