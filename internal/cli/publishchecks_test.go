package cli_test

import (
	"context"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// examplesEnv returns the environment of a fresh table holding examples/layers as version 1
// of each layer.
func examplesEnv(t *testing.T) (cli.Env, store.Config) {
	t.Helper()
	env, cfg := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: exit %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)
	return env, cfg
}

// deepYAML is a flow map nested depth levels deep.
func deepYAML(depth int) string {
	return strings.Repeat("{a: ", depth) + "leaf" + strings.Repeat("}", depth)
}

// Issue 10 §4: an entry nested deeper than DynamoDB allows validates, but DynamoDB refuses
// it. The publish must exit 1 naming the entry and the path, and claim no version (before,
// it exited 3 "retry" and left an interrupted version on every retry).
func TestPublishRefusesWhatDynamoDBCannotStore(t *testing.T) {
	env, _ := examplesEnv(t)
	f := filepath.Join(t.TempDir(), "deep.yaml")
	writeFile(t, f, readFile(t, "../../examples/layers/env/dev.yaml")+
		"manifests:\n  - {apiVersion: example.com/v1, kind: Deep, metadata: {name: deep, namespace: dev-team}, spec: "+deepYAML(40)+"}\n")
	for range 2 { // a retry changes nothing
		r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev")
		if r.code != 1 || !strings.Contains(r.stderr, "entry manifest/") || !strings.Contains(r.stderr, ": spec.a.a.(26 more).a.a.a…: nested deeper than DynamoDB's limit of 32 levels") {
			t.Fatalf("publish of a 40-level entry: exit %d\n%s", r.code, r.stderr)
		}
	}
	if h := run(t, env, "config", "history", "--layer", "env/dev"); strings.Contains(h.stdout, "interrupted") || !strings.Contains(h.stdout, "\n1 ") {
		t.Errorf("a refused publish must claim no version:\n%s", h.stdout)
	}
}

// Issue 10 §5: a cluster layer without its cluster record published with exit 0 ("0
// clusters validated") and every generate then failed. It is refused, exit 1, whether the
// layer is new or published (the record is not inherited: the file is the whole layer).
func TestClusterLayerNeedsItsRecord(t *testing.T) {
	env, _ := examplesEnv(t)
	f := filepath.Join(t.TempDir(), "no-record.yaml")
	writeFile(t, f, "namespaces:\n  - namespace: web\n")
	r := run(t, env, "config", "publish", "-f", f, "--layer", "cluster/new-one")
	if r.code != 1 || !strings.Contains(r.stderr, `cluster/new-one: the publish has no cluster record (the "cluster:" section naming its environment and region)`) {
		t.Errorf("new cluster layer without a record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := run(t, env, "config", "history", "--layer", "cluster/new-one"); g.code != 1 {
		t.Errorf("the refused layer must not exist: exit %d %s", g.code, g.stdout)
	}
	r = run(t, env, "config", "publish", "-f", f, "--layer", "cluster/dev-k3s")
	if r.code != 1 || !strings.Contains(r.stderr, "the published version 1 has cluster: {environment: dev, region: eu-west-1}: keep it in the file (dynamo-cmp config get --layer cluster/dev-k3s prints it)") {
		t.Errorf("published cluster layer without a record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	writeFile(t, f, "cluster: {region: eu-west-1}\nnamespaces:\n  - namespace: web\n")
	if r := run(t, env, "config", "publish", "-f", f, "--layer", "cluster/new-one"); r.code != 1 || !strings.Contains(r.stderr, "cluster.environment is required") {
		t.Errorf("record without environment: exit %d\n%s", r.code, r.stderr)
	}
	if g := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate"); g.code != 0 {
		t.Errorf("generate after the refusals: exit %d %s", g.code, g.stderr)
	}
}

// Issue 10 §6: a hand-written configVersion pinning a published layer to 0 rendered the
// cluster without that layer (17 of 22 objects: auto-prune deletes the rest), and c0 said
// the cluster "has never been published". Both are refused, saying what is published.
func TestPinToZeroOfAPublishedLayer(t *testing.T) {
	env, _ := examplesEnv(t)
	gen := func(params string) result {
		return run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}`+params+`]`), "generate")
	}
	for _, envParam := range []string{"", `,{"name":"environment","string":"dev"}`} {
		assertFailedCleanly(t, gen(`,{"name":"configVersion","string":"g1.e0.c1"}`+envParam), 1,
			"configVersion g1.e0.c1 pins env/dev to version 0 (no layer), but env/dev has published version 1")
		assertFailedCleanly(t, gen(`,{"name":"configVersion","string":"g0.e1.c1"}`+envParam), 1,
			"pins global to version 0 (no layer), but global has published version 1")
		r := gen(`,{"name":"configVersion","string":"g1.e1.c0"}` + envParam)
		assertFailedCleanly(t, r, 1, "configVersion g1.e1.c0 pins cluster/dev-k3s to version 0, but a cluster always renders its own layer: cluster/dev-k3s is at version 1")
		if strings.Contains(r.stderr, "never been published") {
			t.Errorf("c0 of a published cluster must not say it was never published: %s", r.stderr)
		}
		if r := gen(`,{"name":"configVersion","string":"g1.e1.c1"}` + envParam); r.code != 0 || strings.Count(r.stdout, "\n") != 22 {
			t.Errorf("the full pin: exit %d, %d objects: %s", r.code, strings.Count(r.stdout, "\n"), r.stderr)
		}
	}
	// A layer that was never published may be pinned to 0: here no env/prod exists.
	f := filepath.Join(t.TempDir(), "prod.yaml")
	writeFile(t, f, "cluster: {environment: prod, region: eu-west-1, projects: [platform]}\nnamespaces: [{namespace: web}]\n")
	if r := run(t, env, "config", "publish", "-f", f, "--layer", "cluster/prod-one"); r.code != 0 {
		t.Fatalf("publish prod-one: %s", r.stderr)
	}
	if r := run(t, argocdEnv(env, `[{"name":"cluster","string":"prod-one"},{"name":"configVersion","string":"g1.e0.c1"}]`), "generate"); r.code != 0 {
		t.Errorf("g1.e0.c1 for a cluster whose env layer was never published: exit %d %s", r.code, r.stderr)
	}
}

// Issue 10 §7: publishing an empty file (or a bare "---") removed every entry with exit 0.
// It is refused unless --allow-empty is given.
func TestEmptyPublishNeedsAllowEmpty(t *testing.T) {
	env, _ := examplesEnv(t)
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.yaml": "", "dashes.yaml": "---\n", "comment.yaml": "# nothing here\n"} {
		f := filepath.Join(dir, name)
		writeFile(t, f, content)
		r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev")
		if r.code != 1 || !strings.Contains(r.stderr, "refused: the files hold no entries for env/dev, so publishing them would remove all") || !strings.Contains(r.stderr, "pass --allow-empty") {
			t.Errorf("%s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}
	if got := namespacesOf(t, env, "env/dev"); len(got) == 0 {
		t.Fatalf("a refused empty publish emptied the layer")
	}
	f := filepath.Join(dir, "empty.yaml")
	if r := run(t, env, "config", "publish", "-f", f, "--layer", "env/dev", "--allow-empty", "-m", "empty it"); r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 2 (was 1): 0 added, 0 changed,") {
		t.Errorf("--allow-empty: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Issue 10 §7: a publish that ran out of time printed "write entries: context deadline
// exceeded". It says, in one paragraph like generate's, what failed, what state the layer is
// in and what to do.
func TestPublishDeadlineIsReadable(t *testing.T) {
	env, cfg := examplesEnv(t)
	p := faultproxy.Start(t, cfg.Endpoint)
	p.Inject(faultproxy.Always(faultproxy.NoAnswer()).On("BatchWriteItem"))
	f := filepath.Join(t.TempDir(), "dev.yaml")
	writeFile(t, f, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	r := run(t, with(env, "AWS_ENDPOINT_URL_DYNAMODB", p.URL()), "config", "publish", "-f", f, "--layer", "env/dev", "--timeout", "3s")
	if r.code != 3 {
		t.Fatalf("publish past its deadline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"error: dynamo-cmp could not publish env/dev: the command did not finish within its 3s deadline (publish env/dev version 2: write entries: dynamodb BatchWriteItem",
		"dynamo-cmp config history --layer env/dev shows which version is the head", "--timeout (env DYNAMO_CMP_TIMEOUT). [trace "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "context deadline exceeded") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("not one readable paragraph:\n%s", r.stderr)
	}
}

// tamper edits a published entry item as a person would in the console: one more label on
// the first namespace entry of the version.
func tamper(t *testing.T, st *store.Store, cfg store.Config, ref config.LayerRef, pk string, version int) {
	t.Helper()
	l, err := st.ReadVersion(context.Background(), ref, version)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if e.Kind != config.KindNamespace {
			continue
		}
		item := map[string]any{"pk": pk, "sk": fmt.Sprintf("v#%010d#%s#%s", version, e.Kind, e.Key)}
		for k, v := range e.Body {
			item[k] = v
		}
		item["labels"] = map[string]any{"edited": "in-the-console"}
		putRawItem(t, cfg, item)
		return
	}
	t.Fatalf("%s version %d has no namespace entry", ref, version)
}

// Issue 10 §7: after a hand edit of a published version, generate advised "restore the
// edited items or publish a new version", but publish (and rollback) failed the same way,
// reading the edited version for the diff. Both recoveries the message names now work.
func TestRecoveryFromAHandEditedVersion(t *testing.T) {
	env, cfg := examplesEnv(t)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "dev.yaml")
	writeFile(t, saved, run(t, env, "config", "get", "--layer", "env/dev").stdout)
	changed := filepath.Join(dir, "changed.yaml")
	writeFile(t, changed, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	if r := run(t, env, "config", "publish", "-f", changed, "--layer", "env/dev"); r.code != 0 {
		t.Fatalf("publish v2: %s", r.stderr)
	}
	gen := func() result { return run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate") }

	// Version 2 edited by hand: roll back to 1, as the message says.
	tamper(t, st, cfg, config.EnvLayer("dev"), "env#dev", 2)
	assertFailedCleanly(t, gen(), 1, "version 2 of layer env/dev was changed after it was published",
		"dynamo-cmp config rollback --layer env/dev --to N", "dynamo-cmp config publish --layer env/dev -f FILE")
	r := run(t, env, "config", "rollback", "--layer", "env/dev", "--to", "1", "-m", "undo the console edit")
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back env/dev from version 2 to 1") || !strings.Contains(r.stderr, "the current version 2 of env/dev cannot be read") {
		t.Fatalf("rollback away from the edited version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := gen(); g.code != 0 || strings.Count(g.stdout, "\n") != 22 {
		t.Errorf("generate after the rollback: exit %d %s", g.code, g.stderr)
	}

	// Version 1 (now the head) edited by hand: publish a new version from the saved files.
	tamper(t, st, cfg, config.EnvLayer("dev"), "env#dev", 1)
	assertFailedCleanly(t, gen(), 1, "version 1 of layer env/dev was changed after it was published")
	r = run(t, env, "config", "publish", "-f", saved, "--layer", "env/dev", "-m", "replace the edited version")
	if r.code != 0 || !strings.Contains(r.stdout, "published env/dev version 3 (was 1)") {
		t.Fatalf("publish over the edited version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if g := gen(); g.code != 0 || strings.Count(g.stdout, "\n") != 22 || strings.Contains(g.stdout, "in-the-console") {
		t.Errorf("generate after the new publish: exit %d %s", g.code, g.stderr)
	}
}

// Issue 10 §7: interrupted versions stayed forever with no command to find them. config
// orphans lists them (here one left by a publish whose head move failed); a recent one is
// kept even with --delete (its removal is tested with a clock in the store's tests).
func TestOrphansCommand(t *testing.T) {
	env, cfg := examplesEnv(t)
	if r := run(t, env, "config", "orphans"); r.code != 0 || r.stdout != "no interrupted versions in 3 layers\n" {
		t.Errorf("no orphans: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	p := faultproxy.Start(t, cfg.Endpoint)
	p.Inject(faultproxy.Always(faultproxy.Status(500)).On("TransactWriteItems"))
	f := filepath.Join(t.TempDir(), "dev.yaml")
	writeFile(t, f, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	if r := run(t, with(env, "AWS_ENDPOINT_URL_DYNAMODB", p.URL()), "config", "publish", "-f", f, "--layer", "env/dev"); r.code != 3 {
		t.Fatalf("publish with a failing head move: exit %d %s", r.code, r.stderr)
	}
	r := run(t, env, "config", "orphans")
	if r.code != 0 || !strings.Contains(r.stdout, "env/dev  2        ") || !strings.Contains(r.stdout, "1 interrupted version holding") || !strings.Contains(r.stdout, "run with --delete to remove those older than 1h0m0s") {
		t.Errorf("orphans: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "config", "orphans", "--layer", "env/dev", "--delete")
	if r.code != 0 || !strings.Contains(r.stdout, "recent (kept: its publish may still be running)") || !strings.Contains(r.stdout, "removed 0 (0 entries), 1 recent kept") {
		t.Errorf("orphans --delete of a recent one: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "config", "orphans", "--older-than", "1m"); r.code != 2 || !strings.Contains(r.stderr, "at least 5m0s") {
		t.Errorf("a grace shorter than a publish may run: exit %d %s", r.code, r.stderr)
	}
}

// Issue 18 §5: a dry run passed a 489 KB entry that the real publish then refused (DynamoDB's
// 400 KB item limit). The dry run runs every check the publish runs: exit 1, naming the layer,
// the entry and its size, with nothing written either way.
func TestDryRunRefusesWhatPublishRefuses(t *testing.T) {
	env, _ := examplesEnv(t)
	big := filepath.Join(t.TempDir(), "dev-k3s.yaml")
	writeFile(t, big, readFile(t, "../../examples/layers/cluster/dev-k3s.yaml")+
		"manifests:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: big, namespace: dev-team}\n    data:\n      blob: "+strings.Repeat("q", 489<<10)+"\n")
	const want = "cluster/dev-k3s: entry manifest/ConfigMap/dev-team/big takes 490 KB as a DynamoDB item, over DynamoDB's 400 KB item limit"
	for _, args := range [][]string{{"--dry-run"}, nil} {
		r := run(t, env, append([]string{"config", "publish", "-f", big, "--layer", "cluster/dev-k3s", "-m", "big"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("publish %v of a 489 KB entry: exit %d, want 1 with %q\nstderr: %.1000s", args, r.code, want, r.stderr)
		}
		if strings.Contains(r.stderr, "qqqq") {
			t.Errorf("the error quotes the item's content: %.300s", r.stderr)
		}
	}
	if h := run(t, env, "config", "history", "--layer", "cluster/dev-k3s"); strings.Contains(h.stdout, "interrupted") || !strings.Contains(h.stdout, "\n1 ") {
		t.Errorf("a refused publish must claim no version:\n%s", h.stdout)
	}
}

// Issue 18 §5: config orphans counted a version's metadata item among the items it would
// remove ("holding 3 items"), and --delete then reported one fewer ("(2 items)"): the
// metadata item stays as a tombstone. Both count the entries --delete removes.
func TestOrphansCountsAgree(t *testing.T) {
	env, cfg := examplesEnv(t)
	p := faultproxy.Start(t, cfg.Endpoint)
	p.Inject(faultproxy.Always(faultproxy.Status(500)).On("TransactWriteItems"))
	f := filepath.Join(t.TempDir(), "dev.yaml")
	writeFile(t, f, strings.Replace(readFile(t, "../../examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	if r := run(t, with(env, "AWS_ENDPOINT_URL_DYNAMODB", p.URL()), "config", "publish", "-f", f, "--layer", "env/dev"); r.code != 3 {
		t.Fatalf("publish with a failing head move: exit %d %s", r.code, r.stderr)
	}
	// Claimed two hours ago: past the grace period.
	setRawString(t, cfg, "env#dev", "v#0000000002", "at", time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339Nano))
	entries := len(examplesLayer(t, "env/dev").Entries)

	list := run(t, env, "config", "orphans", "--layer", "env/dev")
	wantList := fmt.Sprintf("1 interrupted version holding %d entries", entries)
	if list.code != 0 || !strings.Contains(list.stdout, wantList) {
		t.Errorf("orphans: exit %d, want %q\n%s%s", list.code, wantList, list.stdout, list.stderr)
	}
	del := run(t, env, "config", "orphans", "--layer", "env/dev", "--delete")
	wantDel := fmt.Sprintf("removed 1 (%d entries)", entries)
	if del.code != 0 || !strings.Contains(del.stdout, wantDel) {
		t.Errorf("orphans --delete: exit %d, want %q\n%s%s", del.code, wantDel, del.stdout, del.stderr)
	}
	if again := run(t, env, "config", "orphans", "--layer", "env/dev"); again.code != 0 || !strings.Contains(again.stdout, "no interrupted versions") {
		t.Errorf("after --delete: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
}

// examplesLayer reads one layer of examples/layers.
func examplesLayer(t *testing.T, layer string) config.Layer {
	t.Helper()
	ref, err := config.ParseLayerRef(layer)
	if err != nil {
		t.Fatal(err)
	}
	l, err := layerfile.ReadLayerFilesFor([]string{"../../examples/layers/" + layer + ".yaml"}, ref)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
