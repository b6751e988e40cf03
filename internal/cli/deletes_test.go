package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Issue 18 §5: a "$patch: delete" of an entry no lower layer has (a misspelt role) was
// published without a word, and the role the user meant to remove stayed. It is refused (exit
// 1, dry run or not), naming the layer and the entry, and nothing is written; a delete of an
// entry a lower layer has still publishes.
func TestPublishRefusesDeletingWhatNoLowerLayerHas(t *testing.T) {
	env, _ := examplesEnv(t)
	cluster := readFile(t, "../../examples/layers/cluster/dev-k3s.yaml")
	dir := t.TempDir()
	misspelt := filepath.Join(dir, "misspelt.yaml")
	writeFile(t, misspelt, cluster+"roles:\n  - {name: dev-rol, namespace: dev-team, $patch: delete}\n")
	const want = `cluster/dev-k3s: roles[dev-team/dev-rol]: $patch: delete of an entry no lower layer has (global@1, env/dev@1)`
	for _, args := range [][]string{{"--dry-run"}, nil} {
		r := run(t, env, append([]string{"config", "publish", "-f", misspelt, "--layer", "cluster/dev-k3s"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("publish %v of a delete of a misspelt role: exit %d, want 1 with %q\nstdout: %s\nstderr: %s", args, r.code, want, r.stdout, r.stderr)
		}
	}
	if h := run(t, env, "config", "history", "--layer", "cluster/dev-k3s"); !strings.Contains(h.stdout, "\n1 ") || strings.Contains(h.stdout, "\n2 ") {
		t.Errorf("a refused publish wrote a version:\n%s", h.stdout)
	}

	global := filepath.Join(dir, "global.yaml")
	writeFile(t, global, readFile(t, "../../examples/layers/global.yaml")+"roleBindings:\n  - {name: gone, namespace: kube-system, $patch: delete}\n")
	if r := run(t, env, "config", "publish", "-f", global, "--layer", "global"); r.code != 1 || !strings.Contains(r.stderr, "global: roleBindings[kube-system/gone]: $patch: delete of an entry no lower layer has (global is the lowest layer)") {
		t.Errorf("publish of a delete in global: exit %d\n%s", r.code, r.stderr)
	}

	right := filepath.Join(dir, "right.yaml")
	writeFile(t, right, cluster+"roles:\n  - {name: dev-role, namespace: dev-team, $patch: delete}\n")
	if r := run(t, env, "config", "publish", "-f", right, "--layer", "cluster/dev-k3s"); r.code != 0 {
		t.Errorf("publish of a delete of env/dev's role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Issue 18 §5: a delete draft (edited in the console) of an entry the layer's version does not
// hold was applied as nothing, and the drafts were deleted. It is refused, naming the layer and
// the entry, and nothing is written: the drafts stay for the user to fix.
func TestDraftsPublishRefusesDeletingWhatIsNotThere(t *testing.T) {
	env, cfg := examplesTable(t)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "from-console"})
	misspelt, _ := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "paymnets"})
	if err := st.PutDrafts(context.Background(), config.ClusterLayer("dev-k3s"), []store.Draft{{Entry: ns}, {Entry: misspelt, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	const want = "cluster/dev-k3s: delete draft of namespaces[paymnets]: version 1 of cluster/dev-k3s has no such entry"
	for _, args := range [][]string{{"--dry-run"}, nil} {
		r := run(t, env, append([]string{"config", "drafts", "publish", "--layer", "cluster/dev-k3s"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("drafts publish %v: exit %d, want 1 with %q\nstdout: %s\nstderr: %s", args, r.code, want, r.stdout, r.stderr)
		}
	}
	if h := run(t, env, "config", "history", "--layer", "cluster/dev-k3s"); strings.Contains(h.stdout, "\n2 ") {
		t.Errorf("a refused drafts publish wrote a version:\n%s", h.stdout)
	}
	if l := run(t, env, "config", "drafts", "list", "--layer", "cluster/dev-k3s"); !strings.Contains(l.stdout, "delete\tnamespace/paymnets") {
		t.Errorf("the drafts must stay after a refused publish:\n%s", l.stdout)
	}
}
