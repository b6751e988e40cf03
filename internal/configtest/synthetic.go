// Package configtest builds synthetic configurations for benchmarks, load tests and size
// tests: n namespaces, each with a quota, a limit range, a role, a role binding and two
// network policies (seven objects per namespace).
package configtest

import (
	"fmt"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// ObjectsPerNamespace is the number of objects each synthetic namespace renders.
const ObjectsPerNamespace = 7

// NamespaceEntry returns the i-th synthetic namespace entry.
func NamespaceEntry(i int) config.Entry {
	name := fmt.Sprintf("team-%05d", i)
	body := map[string]any{
		"namespace":   name,
		"labels":      map[string]any{"team": name, "tier": "standard"},
		"annotations": map[string]any{"example.com/owner": name + "@example.com"},
		"resourceQuota": map[string]any{"hard": map[string]any{
			"requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi", "pods": "50",
		}},
		"limitRange": map[string]any{"container": map[string]any{
			"default":        map[string]any{"cpu": "500m", "memory": "512Mi"},
			"defaultRequest": map[string]any{"cpu": "100m", "memory": "128Mi"},
		}},
		"roles": []any{map[string]any{"name": "developer", "rules": []any{
			map[string]any{"apiGroups": []any{"", "apps"}, "resources": []any{"pods", "services", "deployments"}, "verbs": []any{"get", "list", "watch", "create", "update", "delete"}},
		}}},
		"roleBindings": []any{map[string]any{"name": "developers", "roleRef": map[string]any{"kind": "Role", "name": "developer"},
			"subjects": []any{map[string]any{"kind": "Group", "name": name + "-developers"}}}},
		"networkPolicies": []any{
			map[string]any{"name": "allow-same-namespace", "policyTypes": []any{"Ingress"},
				"ingress": []any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{}}}}}},
			map[string]any{"name": "allow-ingress-controller", "policyTypes": []any{"Ingress"},
				"ingress": []any{map[string]any{
					"from":  []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "ingress-nginx"}}}},
					"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8080)}},
				}}},
		},
	}
	e, err := config.NewEntry(config.KindNamespace, body)
	if err != nil {
		panic(err)
	}
	return e
}

// ClusterEntry is the record of a synthetic cluster in environment env, which the Argo CD
// project platform may render.
func ClusterEntry(cluster, env string) config.Entry {
	e, err := config.NewEntry(config.KindCluster, map[string]any{
		"name": cluster, "environment": env, "region": "eu-west-1", "projects": []any{"platform"},
		"labels": map[string]any{"tier": "2"}, "vars": map[string]any{"account": "123456789012"},
	})
	if err != nil {
		panic(err)
	}
	return e
}

// Layers returns the layers of cluster "bench" in environment "dev": the n namespaces in the
// env/dev layer and the cluster record in cluster/bench.
func Layers(n int) []config.Layer {
	entries := make([]config.Entry, n)
	for i := range entries {
		entries[i] = NamespaceEntry(i)
	}
	return []config.Layer{
		{Ref: config.EnvLayer("dev"), Version: 1, Entries: entries},
		{Ref: config.ClusterLayer("bench"), Version: 1, Entries: []config.Entry{ClusterEntry("bench", "dev")}},
	}
}
