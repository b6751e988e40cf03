package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestOnePublishChangesOnlyItsObjects: Argo CD diffs and re-applies every object whose
// rendered bytes change, so a publish that changes one entry must change exactly the objects
// that entry renders — nothing that changes with every version may be stamped on the others.
func TestOnePublishChangesOnlyItsObjects(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)
	generate := func() map[string]string {
		t.Helper()
		r := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
		if r.code != 0 {
			t.Fatalf("generate: exit %d: %s", r.code, r.stderr)
		}
		out := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			out[objectKey(t, line)] = line
		}
		return out
	}
	before := generate()

	// One entry changes: the payments namespace's quota, in the cluster layer.
	base, err := os.ReadFile("../../examples/layers/cluster/dev-k3s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(base), `hard: {cpu: "2", memory: 4Gi}`, `hard: {cpu: "3", memory: 4Gi}`, 1)
	if changed == string(base) {
		t.Fatal("the example's payments quota is not where the test expects it")
	}
	file := filepath.Join(t.TempDir(), "dev-k3s.yaml")
	writeFile(t, file, changed)
	if r := run(t, env, "config", "publish", "-f", file, "--layer", "cluster/dev-k3s", "-m", "payments cpu 3", "--actor", "tester"); r.code != 0 {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after := generate()

	var differ []string
	for id, obj := range after {
		if before[id] != obj {
			differ = append(differ, id)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			differ = append(differ, id+" (gone)")
		}
	}
	sort.Strings(differ)
	if want := []string{"ResourceQuota payments/dev-quota"}; strings.Join(differ, ", ") != strings.Join(want, ", ") {
		t.Errorf("a one-entry publish changed %d objects: %s; want only %s", len(differ), strings.Join(differ, ", "), strings.Join(want, ", "))
	}
}

// objectKey names a rendered JSON object "Kind namespace/name" (Calico kinds as calico.Kind).
func objectKey(t *testing.T, line string) string {
	t.Helper()
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(line), &obj); err != nil {
		t.Fatalf("not a JSON object: %s", line)
	}
	kind := obj.Kind
	if strings.HasPrefix(obj.APIVersion, "projectcalico.org/") {
		kind = "calico." + kind
	}
	return kind + " " + obj.Metadata.Namespace + "/" + obj.Metadata.Name
}
