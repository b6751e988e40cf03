package cli_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

var headerLine = regexp.MustCompile(`^# dynamo-cmp: layer=(\S+) version=(\d+)\n`)

// addNamespace is the "edit" of a read-modify-write: the layer document printed by
// config get, with one namespace more. The header line is kept as an editor keeps it.
func addNamespace(t *testing.T, doc, ns string) (header, edited string) {
	t.Helper()
	header = headerLine.FindString(doc)
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Errorf("config get printed no layer document: %v\n%s", err, doc)
		return "", ""
	}
	list, _ := m["namespaces"].([]any)
	m["namespaces"] = append(list, map[string]any{"namespace": ns})
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Error(err)
	}
	return header, string(out)
}

// namespacesOf returns the namespaces of the head of a layer, as config get prints them.
func namespacesOf(t *testing.T, env cli.Env, layer string) map[string]bool {
	t.Helper()
	r := run(t, env, "config", "get", "--layer", layer)
	if r.code != 0 {
		t.Fatalf("config get: exit %d: %s", r.code, r.stderr)
	}
	var m struct {
		Namespaces []struct{ Namespace string } `json:"namespaces"`
	}
	if err := yaml.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range m.Namespaces {
		out[n.Namespace] = true
	}
	return out
}

// TestReadModifyWriteKeepsEveryUpdate is the workflow of issue 10 §2: ten workers each run
// `config get > f; add my namespace to f; config publish -f f`, retrying on exit 3. Half of
// them pass the version back with --base-version (a script reading the header), half rely
// on the header in the file. Every namespace must be in the final head.
func TestReadModifyWriteKeepsEveryUpdate(t *testing.T) {
	env, _ := examplesEnv(t)
	dir := t.TempDir()
	const workers = 10
	var wg sync.WaitGroup
	conflicts := make([]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := fmt.Sprintf("worker-%d", w)
			f := filepath.Join(dir, ns+".yaml")
			for attempt := 0; ; attempt++ {
				if attempt == 60 {
					t.Errorf("%s: still conflicting after %d attempts", ns, attempt)
					return
				}
				g := run(t, env, "config", "get", "--layer", "env/dev")
				if g.code != 0 {
					t.Errorf("%s: config get: exit %d: %s", ns, g.code, g.stderr)
					return
				}
				header, edited := addNamespace(t, g.stdout, ns)
				m := headerLine.FindStringSubmatch(header)
				if m == nil || m[1] != "env/dev" {
					t.Errorf("%s: config get printed no version header:\n%s", ns, g.stdout)
					return
				}
				args := []string{"config", "publish", "-f", f, "--layer", "env/dev", "-m", ns, "--actor", ns}
				if w%2 == 0 {
					args = append(args, "--base-version", m[2]) // the header is dropped
					writeFile(t, f, edited)
				} else {
					writeFile(t, f, header+edited)
				}
				p := run(t, env, args...)
				switch p.code {
				case 0:
					return
				case 3:
					if !strings.Contains(p.stderr, "conflict: layer env/dev is at version") {
						t.Errorf("%s: exit 3 without a conflict: %s", ns, p.stderr)
						return
					}
					conflicts[w]++
				default:
					t.Errorf("%s: publish: exit %d: %s", ns, p.code, p.stderr)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := namespacesOf(t, env, "env/dev")
	for w := range workers {
		if ns := fmt.Sprintf("worker-%d", w); !got[ns] {
			t.Errorf("the final head lost %s's update", ns)
		}
	}
	total := 0
	for _, c := range conflicts {
		total += c
	}
	t.Logf("%d conflicts refused and retried", total)
}

// TestStaleCopyIsRefused shows what the guard prevents: two people read version N, one
// publishes, the other's publish of the stale copy is refused (exit 3, nothing written)
// while the header is there — and silently overwrites the first change once it is removed,
// which is what a publish without a base does (files from Git, CI).
func TestStaleCopyIsRefused(t *testing.T) {
	env, cfg := examplesEnv(t)
	dir := t.TempDir()
	a := run(t, env, "config", "get", "--layer", "env/dev")
	b := run(t, env, "config", "get", "--layer", "env/dev")
	if !strings.HasPrefix(a.stdout, "# dynamo-cmp: layer=env/dev version=1\n") {
		t.Fatalf("config get must start with the version header:\n%s", a.stdout)
	}
	ha, ea := addNamespace(t, a.stdout, "from-a")
	hb, eb := addNamespace(t, b.stdout, "from-b")
	fb := filepath.Join(dir, "b.yaml")
	writeFile(t, fb, hb+eb)
	if r := run(t, env, "config", "publish", "-f", fb, "--layer", "env/dev"); r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 2 (was 1)") {
		t.Fatalf("first publish: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	fa := filepath.Join(dir, "a.yaml")
	writeFile(t, fa, ha+ea)
	r := run(t, env, "config", "publish", "-f", fa, "--layer", "env/dev")
	if r.code != 3 || !strings.Contains(r.stderr, "conflict: layer env/dev is at version 2, not at version 1 that this change was based on") ||
		!strings.Contains(r.stderr, "nothing was changed") || strings.Contains(r.stdout, "published") {
		t.Fatalf("stale copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --base-version overrides the header both ways.
	if r := run(t, env, "config", "publish", "-f", fa, "--layer", "env/dev", "--base-version", "2", "--dry-run"); r.code != 0 {
		t.Errorf("--base-version 2 overrides the header's 1: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "publish", "-f", fb, "--layer", "env/dev", "--base-version", "1"); r.code != 3 {
		t.Errorf("--base-version 1 on a head at 2: exit %d %s", r.code, r.stderr)
	}
	if got := namespacesOf(t, env, "env/dev"); !got["from-b"] || got["from-a"] {
		t.Errorf("the refused publish changed the layer: %v", got)
	}

	// Without any base the stale copy wins: that is the lost update.
	writeFile(t, fa, ea)
	if r := run(t, env, "config", "publish", "-f", fa, "--layer", "env/dev"); r.code != 0 {
		t.Fatalf("publish without a base: exit %d %s", r.code, r.stderr)
	}
	if got := namespacesOf(t, env, "env/dev"); got["from-b"] || !got["from-a"] {
		t.Errorf("a publish without a base should go over the head (documented): %v", got)
	}

	// Rollback and drafts publish take --base-version too.
	if r := run(t, env, "config", "rollback", "--layer", "env/dev", "--to", "1", "--base-version", "2"); r.code != 3 || !strings.Contains(r.stderr, "is at version 3, not at version 2") {
		t.Errorf("rollback over a moved head: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "rollback", "--layer", "env/dev", "--to", "1", "--base-version", "3"); r.code != 0 {
		t.Errorf("rollback with the right base: exit %d %s", r.code, r.stderr)
	}
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "from-console"})
	if err := st.PutDrafts(context.Background(), config.EnvLayer("dev"), []store.Draft{{Entry: ns}}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--base-version", "3"); r.code != 3 || !strings.Contains(r.stderr, "is at version 1, not at version 3") {
		t.Errorf("drafts publish over a moved head: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "drafts", "publish", "--layer", "env/dev", "--base-version", "1"); r.code != 0 {
		t.Errorf("drafts publish with the right base: exit %d %s", r.code, r.stderr)
	}
	// Export carries the header too, and publishing it back is a no-op at that version.
	e := run(t, env, "config", "export", "--layer", "env/dev")
	if !strings.HasPrefix(e.stdout, "# dynamo-cmp: layer=env/dev version=4\n") {
		t.Errorf("export must start with the version header:\n%s", e.stdout)
	}
}

// Issue 18 §5: --base-version 99 on a layer at version 1 blamed a concurrent publish ("someone
// published or rolled it back meanwhile", exit 3: retry). The layer never had version 99:
// say that it is at version 1, as a usage error (exit 2), or an invalid file (exit 1) when the
// version header says it. A base above the head that the layer did have was rolled back from:
// that stays a conflict (exit 3), and says so.
func TestBaseVersionTheLayerNeverHad(t *testing.T) {
	env, cfg := examplesEnv(t)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "from-console"})
	if err := st.PutDrafts(context.Background(), config.EnvLayer("dev"), []store.Draft{{Entry: ns}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "dev.yaml")
	doc := readFile(t, "../../examples/layers/env/dev.yaml")
	writeFile(t, f, strings.Replace(doc, `"cpu": "4"`, `"cpu": "6"`, 1))
	const never = "layer env/dev is at version 1 and never had version 99"
	for _, args := range [][]string{
		{"config", "publish", "-f", f, "--layer", "env/dev", "--base-version", "99"},
		{"config", "publish", "-f", f, "--layer", "env/dev", "--base-version", "99", "--dry-run"},
		{"config", "rollback", "--layer", "env/dev", "--to", "1", "--base-version", "99"},
		{"config", "drafts", "publish", "--layer", "env/dev", "--base-version", "99"},
	} {
		r := run(t, env, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--base-version 99: "+never) || strings.Contains(r.stderr, "meanwhile") {
			t.Errorf("%v: exit %d, want 2 with %q and no concurrent change blamed\n%s", args, r.code, never, r.stderr)
		}
	}
	header := filepath.Join(dir, "header.yaml")
	writeFile(t, header, "# dynamo-cmp: layer=env/dev version=99\n"+strings.Replace(doc, `"cpu": "4"`, `"cpu": "6"`, 1))
	if r := run(t, env, "config", "publish", "-f", header, "--layer", "env/dev"); r.code != 1 || !strings.Contains(r.stderr, "the version header of the files (version=99): "+never) || strings.Contains(r.stderr, "meanwhile") {
		t.Errorf("a header naming version 99: exit %d, want 1\n%s", r.code, r.stderr)
	}

	// Version 2 published, then rolled back to 1: a change based on 2 was overtaken by the
	// rollback.
	if r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev"); r.code != 0 {
		t.Fatalf("publish: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, env, "config", "rollback", "--layer", "env/dev", "--to", "1"); r.code != 0 {
		t.Fatalf("rollback: exit %d %s", r.code, r.stderr)
	}
	r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev", "--base-version", "2")
	if r.code != 3 || !strings.Contains(r.stderr, "conflict: layer env/dev is at version 1, not at version 2 that this change was based on (it was rolled back meanwhile)") {
		t.Errorf("a base the layer was rolled back from: exit %d, want 3\n%s", r.code, r.stderr)
	}
}
