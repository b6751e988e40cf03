package cli_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/importer"
)

const exampleImport = "../../docs/examples/import"

// TestImportExampleOverlays imports the example overlays (four clusters, two environments),
// then renders each cluster from the written files with `render -f`, apart from import's own
// proof: every cluster gives back what `kustomize build` of its overlay gives, Calico objects
// with dynamo-cmp's sync option.
func TestImportExampleOverlays(t *testing.T) {
	out := filepath.Join(t.TempDir(), "layers")
	r := run(t, nil, "import", "--from", exampleImport+"/overlays", "--clusters", exampleImport+"/clusters.yaml", "--out", out)
	if r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"| global | 11 |", "| env/prod | 1 | 1 |", "Every cluster's render of these layers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "import: cluster prod-us1: read 15 objects") {
		t.Errorf("no progress on stderr:\n%s", r.stderr)
	}
	if report := readFile(t, filepath.Join(out, importer.ReportFile)); report != r.stdout {
		t.Errorf("%s differs from the report printed", importer.ReportFile)
	}
	global := readFile(t, filepath.Join(out, "global.yaml"))
	for _, want := range []string{"cluster: ${cluster.name}", "region: ${cluster.region}", "https://grafana.${cluster.name}.example.com", "environment: ${env}"} {
		if !strings.Contains(global, want) {
			t.Errorf("global.yaml lacks %q", want)
		}
	}
	for _, c := range []string{"dev-eu1", "dev-us1", "prod-eu1", "prod-us1"} {
		rr := run(t, nil, "render", "-f", out, "--cluster", c, "-o", "json")
		if rr.code != 0 {
			t.Fatalf("render %s: exit %d\n%s", c, rr.code, rr.stderr)
		}
		objs, err := importer.ReadManifests(c, []string{filepath.Join(exampleImport, "overlays", c)})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, o := range objs {
			if strings.HasPrefix(o.APIVersion(), "projectcalico.org/") {
				md := o.Body["metadata"].(map[string]any)
				md["annotations"] = map[string]any{"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}
			}
			want = append(want, canonical(t, o.Body))
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(rr.stdout), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, canonical(t, m))
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("cluster %s: render of the imported layers differs from kustomize build:\nwant\n%s\ngot\n%s", c, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// Numbers decoded by encoding/json are float64; re-decode both sides alike.
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}

func TestImportBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, content)
		return p
	}
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n"
	good := write("good/a.yaml", ns)
	noName := write("noname/a.yaml", ns+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: team-a}\ndata: {x: y}\n")
	secret := write("secret/a.yaml", ns+"---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: team-a}\nstringData: {password: hunter2-not-for-stderr}\n")
	noNS := write("nons/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n")
	crNoNS := write("crnons/a.yaml", "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\nspec: {acme: {}}\n")
	groupA := write("groups/a.yaml", "apiVersion: a.example.com/v1\nkind: Widget\nmetadata: {name: w, annotations: {dynamo-cmp.io/cluster-scoped: \"true\"}}\nspec: {x: 1}\n")
	groupB := write("groups/b.yaml", "apiVersion: b.example.com/v1\nkind: Widget\nmetadata: {name: w, annotations: {dynamo-cmp.io/cluster-scoped: \"true\"}}\nspec: {x: 1}\n")
	kubeSystem := write("kubesystem/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns-custom, namespace: kube-system}\ndata: {x: y}\n")
	policy := write("policy.yaml", "name: allow-kube-system\nlayers: [global, \"env/*\", \"cluster/*\"]\nnamespaces: [\"*\", kube-system]\n")
	nonEmpty := write("full/keep.txt", "x")
	// A kubeconfig whose server nothing listens on (a port just released).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	kubeconfig := write("kubeconfig", "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://"+closed+"\", insecure-skip-tls-verify: true}\n"+
		"users:\n- name: u\n  user: {token: not-a-real-token}\ncontexts:\n- name: gone\n  context: {cluster: c, user: u}\n")
	rec := []string{"--environment", "a=dev", "--region", "a=eu-west-1", "--environment", "b=dev", "--region", "b=eu-west-1"}
	recA := rec[:4]

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no out", []string{"import", "--cluster", "a=" + good}, 2, []string{`required flag(s) "out" not set`}},
		{"no sources", []string{"import", "--out", filepath.Join(dir, "o1")}, 2, []string{"no clusters to import"}},
		{"bad pair", []string{"import", "--out", filepath.Join(dir, "o2"), "--cluster", good}, 2, []string{"write NAME=VALUE"}},
		{"bad cluster name", []string{"import", "--out", filepath.Join(dir, "o3"), "--cluster", "Bad_Name=" + good}, 2, []string{`"Bad_Name" is not a valid name`}},
		{"no record", []string{"import", "--out", filepath.Join(dir, "o4"), "--cluster", "a=" + good}, 2, []string{"cluster a needs an environment and a region"}},
		{"out not empty", append([]string{"import", "--out", filepath.Dir(nonEmpty), "--cluster", "a=" + good}, recA...), 2, []string{"is not empty"}},
		{"object without a name", append([]string{"import", "--out", filepath.Join(dir, "o5"), "--cluster", "a=" + noName}, recA...), 1,
			[]string{"cluster a: " + noName + " (document 2): ConfigMap team-a/: metadata.name is missing"}},
		{"secret", append([]string{"import", "--out", filepath.Join(dir, "o6"), "--cluster", "a=" + secret}, recA...), 1,
			[]string{"cluster a: " + secret + " (document 2): Secret team-a/db: Secrets are not imported", "--skip-secrets"}},
		{"namespaced kind without a namespace", append([]string{"import", "--out", filepath.Join(dir, "o7"), "--cluster", "a=" + noNS}, recA...), 1,
			[]string{"cluster a: " + noNS + ": Deployment web: metadata.namespace is missing"}},
		{"custom kind without a namespace", append([]string{"import", "--out", filepath.Join(dir, "o8"), "--cluster", "a=" + crNoNS}, recA...), 1,
			[]string{"ClusterIssuer letsencrypt: metadata.namespace is missing", "dynamo-cmp.io/cluster-scoped"}},
		{"clusters disagree on identity", append([]string{"import", "--out", filepath.Join(dir, "o9"), "--cluster", "a=" + groupA, "--cluster", "b=" + groupB}, rec...), 1,
			[]string{"cluster b: " + groupB + ": Widget w: is b.example.com/v1 here, but cluster a (" + groupA + ") has Widget w as a.example.com/v1"}},
		{"refused by the default policy", append([]string{"import", "--out", filepath.Join(dir, "o10"), "--cluster", "a=" + kubeSystem}, recA...), 1,
			[]string{"the written layers do not render what was imported", "cluster a: does not render", "kube-system"}},
		{"allowed by a policy", append([]string{"import", "--out", filepath.Join(dir, "o11"), "--cluster", "a=" + kubeSystem, "--policy", policy}, recA...), 0, nil},
		{"kubeconfig missing", append([]string{"import", "--out", filepath.Join(dir, "o13"), "--context", "a=gone", "--kubeconfig", filepath.Join(dir, "nope")}, recA...), 2, []string{"--kubeconfig:"}},
		{"context missing", append([]string{"import", "--out", filepath.Join(dir, "o14"), "--context", "a=other", "--kubeconfig", kubeconfig}, recA...), 2, []string{`cluster a: kubeconfig has no context "other"`}},
		{"API server unreachable", append([]string{"import", "--out", filepath.Join(dir, "o15"), "--context", "a=gone", "--kubeconfig", kubeconfig}, recA...), 3, []string{"cluster a (context gone): discovery:", closed}},
		{"secret skipped", append([]string{"import", "--out", filepath.Join(dir, "o12"), "--cluster", "a=" + secret, "--skip-secrets"}, recA...), 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if c.code != 0 && r.stdout != "" {
				t.Errorf("stdout should be empty on failure: %s", r.stdout)
			}
			if strings.Contains(r.stderr+r.stdout, "hunter2") || strings.Contains(r.stderr+r.stdout, "not-a-real-token") {
				t.Errorf("a secret value reached the output")
			}
		})
	}

	// A skipped Secret is listed in the report and written nowhere.
	report := readFile(t, filepath.Join(dir, "o12", importer.ReportFile))
	if !strings.Contains(report, "left out: cluster a: "+secret+" (document 2): Secret team-a/db: Secrets are not imported") {
		t.Errorf("the report does not list the Secret:\n%s", report)
	}
	filepath.WalkDir(filepath.Join(dir, "o12"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(readFile(t, p), "hunter2") {
			t.Errorf("%s holds the Secret's value", p)
		}
		return nil
	})
	// Nothing is written when the input is refused.
	if _, err := os.Stat(filepath.Join(dir, "o6")); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote its output directory")
	}
}

// TestImportedLayersPublish: the files import writes publish as they are (lowest layer
// first, as their headers say), and every cluster's render from the table is the render of
// the files — the objects its overlay holds.
func TestImportedLayersPublish(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "layers")
	if r := run(t, nil, "import", "--from", exampleImport+"/overlays", "--clusters", exampleImport+"/clusters.yaml", "--out", out); r.code != 0 {
		t.Fatalf("import: exit %d\n%s", r.code, r.stderr)
	}
	files := []string{"global.yaml", "env/prod.yaml", "cluster/dev-eu1.yaml", "cluster/dev-us1.yaml", "cluster/prod-eu1.yaml", "cluster/prod-us1.yaml"}
	for _, f := range files {
		layer := strings.TrimSuffix(f, ".yaml")
		if !strings.HasPrefix(readFile(t, filepath.Join(out, f)), "# Written by dynamo-cmp import. Publish with: dynamo-cmp config publish -f "+f+" --layer "+layer+"\n") {
			t.Errorf("%s does not say how to publish it", f)
		}
		if r := run(t, env, "config", "publish", "-f", filepath.Join(out, f), "--layer", layer, "-m", "import"); r.code != 0 {
			t.Fatalf("publish %s: exit %d\n%s%s", f, r.code, r.stdout, r.stderr)
		}
	}
	for _, c := range []string{"dev-eu1", "dev-us1", "prod-eu1", "prod-us1"} {
		fromTable := run(t, env, "config", "render", "--cluster", c)
		fromFiles := run(t, nil, "render", "-f", out, "--cluster", c)
		if fromTable.code != 0 || fromFiles.code != 0 || fromTable.stdout != fromFiles.stdout {
			t.Errorf("cluster %s: config render (exit %d) and render -f (exit %d) differ:\n%s\n%s\n%s", c, fromTable.code, fromFiles.code, fromTable.stdout, fromFiles.stdout, fromTable.stderr)
		}
	}
}
