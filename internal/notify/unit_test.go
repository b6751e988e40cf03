package notify

import (
	"encoding/json"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// testConfigMap is the ConfigMap the test ApplicationSets' plugin generators name.
const testConfigMap = "dynamo-cmp-generator"

func TestPluginInputs(t *testing.T) {
	raw := func(v any) json.RawMessage {
		b, _ := json.Marshal(v)
		return b
	}
	deep := pluginGen(testConfigMap, map[string]any{"environment": "prod"})
	for range maxGeneratorDepth + 2 {
		deep = map[string]any{"matrix": map[string]any{"generators": []any{deep, listGen()}}}
	}
	for _, tc := range []struct {
		name string
		gens []any
		want int
	}{
		{"plain", []any{pluginGen(testConfigMap, nil)}, 1},
		{"another ConfigMap", []any{pluginGen("other", nil)}, 0},
		{"list only", []any{listGen()}, 0},
		{"matrix", []any{map[string]any{"matrix": map[string]any{"generators": []any{listGen(), pluginGen(testConfigMap, map[string]any{"environment": "dev"})}}}}, 1},
		{"merge of matrix", []any{map[string]any{"merge": map[string]any{"generators": []any{
			map[string]any{"matrix": map[string]any{"generators": []any{pluginGen(testConfigMap, nil), listGen()}}},
			pluginGen(testConfigMap, map[string]any{"namePattern": "x-*"}),
		}}}}, 2},
		{"too deep", []any{deep}, 0},
		{"malformed generator", []any{"not an object", pluginGen(testConfigMap, nil)}, 1},
	} {
		var gens []json.RawMessage
		for _, g := range tc.gens {
			gens = append(gens, raw(g))
		}
		if got := pluginInputs(gens, testConfigMap); len(got) != tc.want {
			t.Errorf("%s: %d plugin generators found, want %d", tc.name, len(got), tc.want)
		}
	}

	gold := namedCluster{name: "a", record: config.Cluster{Environment: "dev", Labels: map[string]string{"tier": "gold"}}}
	inputs := func(p map[string]any) []map[string]json.RawMessage {
		return pluginInputs([]json.RawMessage{raw(pluginGen(testConfigMap, p))}, testConfigMap)
	}
	clusters := map[string]namedCluster{clusterKey(gold): gold}
	for _, tc := range []struct {
		params map[string]any
		want   bool
	}{
		{nil, true},
		{map[string]any{"environment": "dev"}, true},
		{map[string]any{"environment": "prod"}, false},
		{map[string]any{"labelSelector": "tier=silver"}, false},
		{map[string]any{"labelSelector": "tier in (gold"}, true}, // invalid: refresh (the controller shows the error)
		{map[string]any{"environment": "{{.env}}"}, true},        // templated from a matrix's other generator
	} {
		if got := selects(inputs(tc.params), clusters); got != tc.want {
			t.Errorf("selects(%v) = %v, want %v", tc.params, got, tc.want)
		}
	}
}

// pluginGen is a plugin generator naming configMap, with input parameters (nil: none);
// listGen is a list generator.
var (
	pluginGen = argocdtest.PluginGenerator
	listGen   = argocdtest.ListGenerator
)
