package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// explainLine returns the table line of a field, its columns split on runs of spaces.
func explainLine(t *testing.T, out, path string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if cols := strings.Fields(line); len(cols) > 0 && cols[0] == path {
			return cols
		}
	}
	t.Fatalf("no line for %s in:\n%s", path, out)
	return nil
}

// TestConfigExplainPublished publishes three layers, the env layer twice and the cluster
// layer three times, and asks where the quota of a namespace came from, at the latest
// versions and at pinned ones.
func TestConfigExplainPublished(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	publish := func(layer, body string) {
		t.Helper()
		file := filepath.Join(dir, strings.ReplaceAll(layer, "/", "-")+".yaml")
		writeFile(t, file, body)
		if r := run(t, env, "config", "publish", "-f", file, "--layer", layer, "-m", "test", "--actor", "tester"); r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s%s", layer, r.code, r.stdout, r.stderr)
		}
	}
	publish("global", "namespaces:\n  - namespace: team-a\n    labels: {team: a}\n    resourceQuota: {cpu: \"4\", memory: 8Gi, pods: \"100\"}\n")
	publish("env/prod", "namespaces:\n  - namespace: team-a\n    resourceQuota: {cpu: \"6\"}\n")
	publish("env/prod", "namespaces:\n  - namespace: team-a\n    resourceQuota: {cpu: \"8\", memory: 16Gi}\n")
	record := "cluster: {environment: prod, region: eu-west-1}\n"
	publish("cluster/prod-eu1", record)
	publish("cluster/prod-eu1", record+"namespaces:\n  - namespace: team-a\n    resourceQuota: {cpu: \"12\"}\n")
	publish("cluster/prod-eu1", record+"namespaces:\n  - namespace: team-a\n    resourceQuota: {cpu: \"16\"}\n    labels: {region: \"${cluster.region}\"}\n")

	r := run(t, env, "config", "explain", "--cluster", "prod-eu1", "--object", "ResourceQuota/team-a/prod-quota")
	if r.code != 0 {
		t.Fatalf("explain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "cluster prod-eu1 at g1.e2.c3\n\nResourceQuota team-a/prod-quota\n") {
		t.Errorf("explain does not start with the cluster, its version and the object:\n%s", r.stdout)
	}
	for _, want := range [][]string{
		{"spec.hard.cpu", "16", "cluster/prod-eu1@3", "namespaces[team-a].resourceQuota.hard.cpu"},
		{"spec.hard.memory", "16Gi", "env/prod@2", "namespaces[team-a].resourceQuota.hard.memory"},
		{"spec.hard.pods", "100", "global@1", "namespaces[team-a].resourceQuota.hard.pods"},
		{"metadata.namespace", "team-a", "global@1", "namespaces[team-a].namespace"},
		{"metadata.name", "prod-quota", "default"},
	} {
		if got := explainLine(t, r.stdout, want[0]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	}
	if strings.Contains(r.stdout, "\nNamespace ") {
		t.Errorf("--object explains other objects too:\n%s", r.stdout)
	}

	// A variable names where its value came from.
	r = run(t, env, "config", "explain", "--cluster", "prod-eu1", "--object", "Namespace/team-a")
	if got, want := strings.Join(explainLine(t, r.stdout, "metadata.labels.region"), " "),
		"metadata.labels.region eu-west-1 cluster/prod-eu1@3 namespaces[team-a].labels.region ${cluster.region} ← cluster/prod-eu1@3"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// Pinned versions explain what those versions rendered.
	for _, tc := range []struct{ version, value, origin string }{
		{"g1.e2.c2", "12", "cluster/prod-eu1@2"},
		{"g1.e2.c1", "8", "env/prod@2"},
		{"g1.e1.c1", "6", "env/prod@1"},
	} {
		r = run(t, env, "config", "explain", "--cluster", "prod-eu1", "--version", tc.version, "--object", "ResourceQuota/team-a/prod-quota", "-o", "json")
		if r.code != 0 {
			t.Fatalf("explain at %s: exit %d\n%s", tc.version, r.code, r.stderr)
		}
		var doc struct {
			ConfigVersion string `json:"configVersion"`
			Objects       []struct {
				Kind, Namespace, Name string
				Fields                []struct {
					Path   string `json:"path"`
					Value  any    `json:"value"`
					Origin string `json:"origin"`
					Source *struct {
						Layer   string `json:"layer"`
						Version int    `json:"version"`
						Entry   string `json:"entry"`
						Field   string `json:"field"`
					} `json:"source"`
				} `json:"fields"`
			} `json:"objects"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("-o json is not JSON: %v\n%s", err, r.stdout)
		}
		if doc.ConfigVersion != tc.version || len(doc.Objects) != 1 || doc.Objects[0].Name != "prod-quota" {
			t.Fatalf("at %s: version %q, %d objects", tc.version, doc.ConfigVersion, len(doc.Objects))
		}
		found := false
		for _, f := range doc.Objects[0].Fields {
			if f.Path != "spec.hard.cpu" {
				continue
			}
			found = true
			if f.Value != tc.value || f.Origin != tc.origin || f.Source == nil || f.Source.Field != "resourceQuota.hard.cpu" {
				t.Errorf("at %s: cpu %v from %s (%+v), want %s from %s", tc.version, f.Value, f.Origin, f.Source, tc.value, tc.origin)
			}
		}
		if !found {
			t.Errorf("at %s: no spec.hard.cpu in %s", tc.version, r.stdout)
		}
	}

	r = run(t, env, "config", "explain", "--cluster", "prod-eu1", "--object", "ResourceQuota/team-a/nope")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "cluster prod-eu1 at g1.e2.c3 renders no object ResourceQuota/team-a/nope") {
		t.Errorf("unknown object: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "config", "explain", "--cluster", "prod-eu1", "--object", "team-a/prod-quota/x/y")
	if r.code != 2 || !strings.Contains(r.stderr, "--object") {
		t.Errorf("bad --object: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, env, "config", "explain", "--cluster", "nope")
	if r.code != 1 || r.stdout != "" {
		t.Errorf("unknown cluster: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestConfigExplainFiles explains layer files, as render reads them, without a table.
func TestConfigExplainFiles(t *testing.T) {
	r := run(t, cli.Env{}, "config", "explain", "-f", "../../examples/layers", "--cluster", "dev-k3s", "--object", "Namespace/payments")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := strings.Join(explainLine(t, r.stdout, `metadata.annotations["example.com/cost-center"]`), " ")
	want := `metadata.annotations["example.com/cost-center"] 123456789012 cluster/dev-k3s namespaces[payments].annotations["example.com/cost-center"] ${vars.account} ← cluster/dev-k3s`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r = run(t, cli.Env{}, "config", "explain", "-f", "../../examples/layers", "--cluster", "dev-k3s", "--version", "g1.e1.c1")
	if r.code != 2 {
		t.Errorf("--version with -f: exit %d, want 2: %s", r.code, r.stderr)
	}
}

// TestConfigExplainEscapes shows a value with control characters quoted, on one line.
func TestConfigExplainEscapes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "layers.yaml")
	writeFile(t, file, "layer: cluster/c\ncluster: {environment: dev, region: r}\nnamespaces:\n  - namespace: a\n    annotations: {note: \"one\\ttwo\\nthree\\u001b[31mred\"}\n")
	r := run(t, cli.Env{}, "config", "explain", "-f", file, "--cluster", "c", "--object", "Namespace/a")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := strings.Join(explainLine(t, r.stdout, "metadata.annotations.note"), " ")
	if want := `metadata.annotations.note "one\ttwo\nthree\x1b[31mred" cluster/c namespaces[a].annotations.note`; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if strings.ContainsAny(r.stdout, "\t\x1b") {
		t.Errorf("stdout holds raw control characters:\n%q", r.stdout)
	}
}
