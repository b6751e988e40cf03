package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateComponentsWithPatches: the shipped ApplicationSets split a cluster into one
// Application per component; a published patch on a ResourceQuota must not break the
// Application of the add-ons, and each component's Application gets its objects patched
// exactly as the full render has them.
func TestGenerateComponentsWithPatches(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)
	base, err := os.ReadFile("../../examples/layers/cluster/dev-k3s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(t.TempDir(), "dev-k3s.yaml")
	writeFile(t, layer, string(base)+`patches:
  - name: bigger-quota
    target: {kind: ResourceQuota, namespace: payments}
    strategicMerge: {spec: {hard: {cpu: "16"}}}
`)
	if r := run(t, env, "config", "publish", "-f", layer, "--layer", "cluster/dev-k3s", "-m", "bigger quota", "--actor", "tester"); r.code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	generate := func(components ...string) result {
		params := []map[string]any{{"name": "cluster", "string": "dev-k3s"}}
		if len(components) > 0 {
			params = append(params, map[string]any{"name": "components", "array": components})
		}
		js, _ := json.Marshal(params)
		return run(t, argocdEnv(env, string(js)), "generate")
	}
	full := generate()
	if full.code != 0 {
		t.Fatalf("generate: exit %d: %s", full.code, full.stderr)
	}
	fullObjects := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(full.stdout), "\n") {
		fullObjects[line] = true
	}
	for _, tt := range []struct {
		component, kind string
	}{{"addons", `"kind":"Application"`}, {"namespaces", `"kind":"ResourceQuota"`}, {"rbac", `"kind":"Role"`}} {
		r := generate(tt.component)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("components [%s]: exit %d: %s", tt.component, r.code, r.stderr)
			continue
		}
		if !strings.Contains(r.stdout, tt.kind) {
			t.Errorf("components [%s]: no %s in the stream", tt.component, tt.kind)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !fullObjects[line] {
				t.Errorf("components [%s]: an object differs from the full render: %s", tt.component, line)
			}
		}
	}
	if r := generate("namespaces"); !strings.Contains(r.stdout, `"hard":{"cpu":"16"`) {
		t.Errorf("components [namespaces]: the quota is not patched:\n%s", r.stdout)
	}
}
