package render_test

import (
	"fmt"
	"os"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Render a cluster's layers to Kubernetes objects exactly as `dynamo-cmp generate` does:
// select the cluster's layers, merge, validate, render.
func ExampleLayers() {
	all, err := layerfile.ParseLayers("layers.yaml", []byte(`
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: env/dev
namespaces:
  - namespace: dev-team
    labels: {environment: dev, team: backend}
    resourceQuota: {cpu: "4", memory: 8Gi}
---
apiVersion: dynamo-cmp.io/v1
kind: Layer
layer: cluster/dev-k3s
cluster: {environment: dev, region: eu-west-1}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	layers, err := config.SelectLayers(all, "dev-k3s", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := render.Layers(layers, "dev-k3s", render.LayersOptions{Options: render.Options{Format: render.FormatYAML}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Len(), "objects")
	_, _ = out.WriteTo(os.Stdout)
	// Output:
	// 2 objects
	// apiVersion: v1
	// kind: Namespace
	// metadata:
	//   name: dev-team
	//   labels:
	//     environment: dev
	//     team: backend
	// ---
	// apiVersion: v1
	// kind: ResourceQuota
	// metadata:
	//   name: dev-quota
	//   namespace: dev-team
	// spec:
	//   hard:
	//     cpu: "4"
	//     memory: 8Gi
}
