package importer

import (
	"fmt"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// benchFleet is clusters × namespaces objects: a namespace with a quota and a role binding
// each, one quota differing per environment, a ConfigMap naming the cluster.
func benchFleet(b *testing.B, clusters, namespaces int) []ClusterInput {
	var out []ClusterInput
	for c := range clusters {
		name := fmt.Sprintf("c%02d", c)
		env := []string{"dev", "prod"}[c%2]
		var objs []Object
		for n := range namespaces {
			ns := fmt.Sprintf("team-%03d", n)
			cpu := "4"
			if env == "prod" {
				cpu = "16"
			}
			for _, body := range []map[string]any{
				{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns, "labels": map[string]any{"team": ns, "cluster": name}}},
				{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": map[string]any{"name": "compute", "namespace": ns}, "spec": map[string]any{"hard": map[string]any{"cpu": cpu, "memory": "8Gi"}}},
				{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": map[string]any{"name": "devs", "namespace": ns},
					"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
					"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": ns}}},
				{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "info", "namespace": ns}, "data": map[string]any{"cluster": name}},
			} {
				n, err := config.NormalizeBody(body)
				if err != nil {
					b.Fatal(err)
				}
				objs = append(objs, Object{Cluster: name, Source: "bench", Body: n})
			}
		}
		out = append(out, ClusterInput{Record: config.Cluster{Name: name, Environment: env, Region: "eu-west-1", Projects: []string{"p"}}, Objects: objs})
	}
	return out
}

// BenchmarkImport imports and proves 20 clusters of 400 objects each (8,000 objects).
func BenchmarkImport(b *testing.B) {
	fleet := benchFleet(b, 20, 100)
	b.ReportAllocs()
	for b.Loop() {
		res, err := Import(fleet, Options{})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		if err := res.Write(dir); err != nil {
			b.Fatal(err)
		}
		if err := res.Prove(dir, nil); err != nil {
			b.Fatal(err)
		}
	}
}
