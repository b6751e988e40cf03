package shiptest_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// The policies are checked against the code by running it: every command runs against
// DynamoDB Local behind iamProxy, which enforces the policy files. A policy is right when the
// commands of its principal all succeed (the policy allows every call they make) AND every
// action it grants was used (it grants nothing more). So the list of calls lives in one
// place, the code; the policy files are checked to match it exactly.

// TestSidecarPolicyCoversGenerate runs what the sidecar runs — `generate` in every request
// shape (latest or pinned configVersion, environment known or not) and the dynamic
// `parameters` command — with only sidecar-read-only.json, and checks that each succeeds,
// prints what it prints without any policy, and that the policy grants exactly the actions
// used. A table the policy does not name is refused.
func TestSidecarPolicyCoversGenerate(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	direct := storeEnv(t, cfg, endpoint)
	publishExamples(t, direct)

	pol := loadEffective(t, sidecarPolicies)
	p := startIAMProxy(t, endpoint, cfg.Table, pol)
	sidecar := storeEnv(t, cfg, p.URL())

	shapes := map[string]string{
		"latest":                      `[{"name":"cluster","string":"dev-k3s"}]`,
		"latest, environment given":   `[{"name":"cluster","string":"dev-k3s"},{"name":"environment","string":"dev"}]`,
		"pinned":                      `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"g1.e1.c1"}]`,
		"pinned, environment given":   `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"g1.e1.c1"},{"name":"environment","string":"dev"}]`,
		"components, latest explicit": `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"latest"},{"name":"components","array":["namespaces","rbac"]}]`,
	}
	for name, params := range shapes {
		t.Run("generate "+name, func(t *testing.T) {
			want := run(t, argocd(direct, params), "generate")
			if want.Code != 0 || want.Stdout == "" {
				t.Fatalf("generate without any policy: %s", want)
			}
			got := run(t, argocd(sidecar, params), "generate")
			if got.Code != 0 || got.Stdout != want.Stdout || got.Stderr != "" {
				t.Errorf("generate with the sidecar policy differs from generate without policy:\n%s", got)
			}
		})
	}
	t.Run("parameters", func(t *testing.T) {
		r := run(t, argocd(sidecar, shapes["latest"]), "parameters")
		if r.Code != 0 || !strings.Contains(r.Stdout, `"g1.e1.c1"`) || r.Stderr != "" {
			t.Errorf("parameters with the sidecar policy: %s", r)
		}
	})

	allowed, denied := p.actions()
	if len(denied) > 0 {
		t.Errorf("sidecar-read-only.json denied %v to the sidecar's commands", denied)
	}
	if granted := pol.actions(); !slices.Equal(allowed, granted) {
		t.Errorf("the sidecar's commands used %v; sidecar-read-only.json grants %v: make them equal (least privilege)", allowed, granted)
	}

	t.Run("another table", func(t *testing.T) {
		r := run(t, argocd(with(sidecar, "DYNAMO_CMP_TABLE", "someone-elses-table"), shapes["latest"]), "generate")
		if r.Code != cli.ExitFailed || r.Stdout != "" || !strings.Contains(r.Stderr, "access denied: the caller may not dynamodb:BatchGetItem on table someone-elses-table") {
			t.Errorf("a table the policy does not name must be refused: %s", r)
		}
	})
}

// TestReadOnlyPoliciesCannotChangeTheTable runs the operators' write commands with each
// read-only policy: all of them are refused with an access-denied error naming the action,
// and the table is unchanged.
func TestReadOnlyPoliciesCannotChangeTheTable(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	direct := storeEnv(t, cfg, endpoint)
	publishExamples(t, direct)
	st := newStore(t, cfg, endpoint)
	if err := st.PutDrafts(context.Background(), config.ClusterLayer("dev-k3s"), []store.Draft{{Entry: namespaceEntry(t, "from-console")}}); err != nil {
		t.Fatal(err)
	}
	// env/dev at version 2, so there is a version to roll back to; a third one to publish.
	dir := t.TempDir()
	second, changed := filepath.Join(dir, "v2.yaml"), filepath.Join(dir, "v3.yaml")
	writeFile(t, second, strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	writeFile(t, changed, strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "8"`, 1))
	if r := run(t, direct, "config", "publish", "-f", second, "--layer", "env/dev", "--actor", "ops"); r.Code != 0 {
		t.Fatal(r)
	}
	before := heads(t, st)

	for _, files := range [][]string{sidecarPolicies, servePolicies} {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			p := startIAMProxy(t, endpoint, cfg.Table, loadEffective(t, files))
			env := storeEnv(t, cfg, p.URL())
			for _, args := range [][]string{
				{"config", "publish", "-f", changed, "--layer", "env/dev", "--actor", "x"},
				{"config", "rollback", "--layer", "env/dev", "--to", "1", "--actor", "x"},
				{"config", "drafts", "publish", "--layer", "cluster/dev-k3s", "--actor", "x"},
				{"table", "create"},
			} {
				r := run(t, env, args...)
				if r.Code == 0 || !strings.Contains(r.Stderr, "access denied: the caller may not dynamodb:") {
					t.Errorf("dynamo-cmp %s must be refused by %v: %s", strings.Join(args, " "), files, r)
				}
			}
			if _, denied := p.actions(); len(denied) == 0 {
				t.Error("the proxy denied nothing")
			}
		})
	}
	if after := heads(t, st); !slices.Equal(before, after) {
		t.Errorf("the heads moved: before %v, after %v", before, after)
	}
}

// TestOperatorPolicyCoversOperatorCommands runs every operator command of the README and
// docs/operations.md with only operator-publish.json: all succeed, and the policy grants
// exactly the actions they use.
func TestOperatorPolicyCoversOperatorCommands(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint) // only for its settings: `table create` makes the table below
	cfg.Table = cfg.Table + "-op"
	pol := loadEffective(t, operatorPolicies)
	p := startIAMProxy(t, endpoint, cfg.Table, pol)
	env := storeEnv(t, cfg, p.URL())
	dir := t.TempDir()
	changed := filepath.Join(dir, "dev.yaml")
	writeFile(t, changed, strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))

	step := func(args ...string) {
		t.Helper()
		if r := run(t, env, args...); r.Code != 0 {
			t.Fatalf("dynamo-cmp %s with the operator policy: %s", strings.Join(args, " "), r)
		}
	}
	step("table", "create")
	step("table", "create") // exists: waits for ACTIVE with DescribeTable
	for _, l := range exampleLayers {
		step("config", "publish", "-f", filepath.Join(repoRoot(t), "examples", "layers", l+".yaml"), "--layer", l, "-m", "initial", "--actor", "ops")
	}
	step("config", "publish", "-f", changed, "--layer", "env/dev", "--dry-run", "--actor", "ops")
	step("config", "publish", "-f", changed, "--layer", "env/dev", "-m", "more cpu", "--actor", "ops")
	step("config", "diff", "--layer", "env/dev", "--from", "1", "--to", "2")
	step("config", "diff", "--cluster", "dev-k3s", "--from", "g1.e1.c1", "--to", "latest")
	step("config", "history", "--layer", "env/dev")
	step("config", "get", "--layer", "env/dev")
	step("config", "export", "--dir", filepath.Join(dir, "export"))
	step("config", "validate", "--cluster", "dev-k3s")
	step("config", "render", "--cluster", "dev-k3s")
	step("config", "rollback", "--layer", "env/dev", "--to", "1", "--dry-run", "--actor", "ops")
	step("config", "rollback", "--layer", "env/dev", "--to", "1", "-m", "undo", "--actor", "ops")
	step("clusters", "list")
	step("clusters", "status")
	// A table an earlier release wrote: its change counter in the registry, a cluster's last
	// known good in the cluster layer's partition. `table upgrade` moves them.
	for _, item := range []map[string]any{
		{"pk": avS("registry"), "sk": avS("seq"), "seq": avN(7), "at": avS("2026-12-01T00:00:00.000000000Z")},
		{"pk": avS("cluster#dev-k3s"), "sk": avS("lkg"), "cluster": avS("dev-k3s"), "configVersion": avS("g1.e1.c1"), "at": avS("2026-12-01T00:00:00.000000000Z")},
	} {
		if status, body := rawDynamo(t, cfg, endpoint, "PutItem", put(cfg.Table, item)); status != 200 {
			t.Fatalf("write an item of the old layout: %d %s", status, body)
		}
	}
	step("table", "upgrade", "--dry-run")
	if r := run(t, env, "table", "upgrade"); r.Code != 0 || !strings.Contains(r.Stdout, "moved registry/seq to changes/seq") || !strings.Contains(r.Stdout, "moved cluster#dev-k3s/lkg to lkg#dev-k3s/lkg") {
		t.Fatalf("table upgrade with the operator policy: %s", r)
	}
	if r := run(t, env, "table", "upgrade"); r.Code != 0 || !strings.Contains(r.Stdout, "nothing to move") {
		t.Errorf("a second table upgrade: %s", r)
	}
	// Policies: what the layers may render (docs/security.md).
	policyFile := filepath.Join(dir, "policy.yaml")
	writeFile(t, policyFile, "name: dev-clusters\nlayers: [cluster/dev-*]\nnamespaces: [\"*\"]\n")
	step("policy", "put", "-f", policyFile, "--dry-run", "--actor", "ops")
	step("policy", "put", "-f", policyFile, "--actor", "ops")
	step("policy", "list")
	step("policy", "get", "dev-clusters")
	step("policy", "history")
	step("policy", "delete", "dev-clusters", "--actor", "ops")
	// A console edit (a draft item written in the AWS console), then its publish.
	if err := newStore(t, cfg, endpoint).PutDrafts(context.Background(), config.ClusterLayer("dev-k3s"), []store.Draft{{Entry: namespaceEntry(t, "from-console")}}); err != nil {
		t.Fatal(err)
	}
	step("config", "drafts", "list", "--layer", "cluster/dev-k3s")
	step("config", "drafts", "publish", "--layer", "cluster/dev-k3s", "--dry-run", "--actor", "ops")
	step("config", "drafts", "publish", "--layer", "cluster/dev-k3s", "-m", "console edits", "--actor", "ops")

	allowed, denied := p.actions()
	if len(denied) > 0 {
		t.Errorf("operator-publish.json denied %v to the operators' commands", denied)
	}
	if granted := pol.actions(); !slices.Equal(allowed, granted) {
		t.Errorf("the operators' commands used %v; operator-publish.json grants %v: make them equal (least privilege)", allowed, granted)
	}
}

// TestServePoliciesCoverServe calls every method of serve's Store interface (read from
// internal/serve/options.go, so a new method fails this test until it is placed here) with
// the policies of each serve feature level, and checks that what a level needs is allowed,
// what it does not need is refused — serve can never publish new configuration — and that
// each file grants exactly what its level adds.
func TestServePoliciesCoverServe(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	publishExamples(t, storeEnv(t, cfg, endpoint))
	ctx := context.Background()
	// A rollout strategy for every layer, so the second version of env/dev starts a rollout
	// for the rollout steps below.
	strategy, err := rollout.ParseStrategy([]byte("name: default\nwaves: [{name: all}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := newStore(t, cfg, endpoint).PutStrategy(ctx, strategy, "ops"); err != nil {
		t.Fatal(err)
	}
	// A second version of env/dev, so there is something to roll back.
	changed := filepath.Join(t.TempDir(), "dev.yaml")
	writeFile(t, changed, strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1))
	if r := run(t, storeEnv(t, cfg, endpoint), "config", "publish", "-f", changed, "--layer", "env/dev", "--actor", "ops"); r.Code != 0 {
		t.Fatal(r)
	}
	dev := config.ClusterLayer("dev-k3s")
	envDev := config.EnvLayer("dev")
	publishIn := func(st *store.Store) error {
		cur, err := st.ReadVersion(ctx, dev, 1)
		if err != nil {
			return err
		}
		_, err = st.Publish(ctx, store.PublishInput{Ref: dev, Entries: append(cur.Entries, namespaceEntry(t, "sneaky")), Base: 1, Actor: "serve"})
		return err
	}
	calls := map[string]func(*store.Store) error{
		"Heads": func(st *store.Store) error { _, err := st.Heads(ctx, config.GlobalLayer, envDev, dev); return err },
		"ReadVersion": func(st *store.Store) error {
			_, err := st.ReadVersion(ctx, dev, 1)
			return err
		},
		"ChangeSeq":     func(st *store.Store) error { _, err := st.ChangeSeq(ctx); return err },
		"Ping":          func(st *store.Store) error { return st.Ping(ctx) },
		"LastKnownGood": func(st *store.Store) error { _, err := st.LastKnownGood(ctx, "dev-k3s"); return err },
		"PutLastKnownGood": func(st *store.Store) error {
			_, err := st.PutLastKnownGood(ctx, store.LastKnownGood{Cluster: "dev-k3s", Version: config.ConfigVersion{Global: 1, Env: 2, Cluster: 1}, At: time.Now(), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"})
			return err
		},
		"Rollback": func(st *store.Store) error {
			_, err := st.Rollback(ctx, store.RollbackInput{Ref: envDev, From: 2, To: 1, Actor: "dynamo-cmp serve (auto-rollback)", Message: "shipcheck"})
			return err
		},
		"Publish":       publishIn,
		"RegistryState": func(st *store.Store) error { _, err := st.RegistryState(ctx); return err },
		"Strategies":    func(st *store.Store) error { _, err := st.Strategies(ctx); return err },
		"Policies":      func(st *store.Store) error { _, err := st.Policies(ctx); return err },
		"Rollouts":      func(st *store.Store) error { _, err := st.Rollouts(ctx); return err },
		"Observations":  func(st *store.Store) error { _, err := st.Observations(ctx, "dev-k3s"); return err },
		// A rollout step that serves the same (the bake started, say): one conditional PutItem.
		"UpdateRollout": func(st *store.Store) error { return stepRollout(ctx, st, store.RolloutUpdate{}) },
		// A step that changes what is served: the rollout and the change counter in a transaction.
		"UpdateRollout (served)": func(st *store.Store) error { return stepRollout(ctx, st, store.RolloutUpdate{Served: true}) },
		"PutObservations": func(st *store.Store) error {
			return st.PutObservations(ctx, []store.Observation{{Cluster: "dev-k3s", Applications: 2, Sync: "Synced", Health: "Healthy", SyncedVersion: "g1.e2.c1", At: time.Now(), Replica: "serve-0"}})
		},
	}
	methods := serveStoreMethods(t)
	for _, m := range methods {
		if calls[m] == nil {
			t.Errorf("serve's Store interface has the method %s, which this test does not call: add it to the table above and say which policy allows it", m)
		}
	}

	levels := []struct {
		files []string
		adds  string // the file this level adds
		allow []string
		deny  []string
	}{
		{servePolicies, "serve-read-only.json", []string{"Heads", "RegistryState", "Strategies", "Policies", "Rollouts", "Observations", "ReadVersion", "ChangeSeq", "Ping", "LastKnownGood"},
			[]string{"PutLastKnownGood", "UpdateRollout", "UpdateRollout (served)", "PutObservations", "Rollback", "Publish"}},
		{serveLKGPolicies, "serve-last-known-good.json", []string{"PutLastKnownGood"}, []string{"UpdateRollout", "UpdateRollout (served)", "PutObservations", "Rollback", "Publish"}},
		{serveRolloutPolicies, "serve-rollouts.json", []string{"UpdateRollout", "UpdateRollout (served)", "PutObservations"}, []string{"Rollback", "Publish"}},
		{serveRollbackPolicy, "serve-auto-rollback.json", []string{"Rollback"}, []string{"Publish"}},
	}
	// STS answers, as in AWS: every write serve makes records its caller ARN (callerArn), so
	// the attribute conditions are checked against the items serve really writes.
	sts := testkit.NewFakeSTS(t, "arn:aws:sts::123456789012:assumed-role/dynamo-cmp-serve/serve-0")
	serveCfg := cfg
	serveCfg.STSEndpoint = sts.URL
	covered := map[string]bool{}
	for _, lv := range levels {
		t.Run(lv.adds, func(t *testing.T) {
			p := startIAMProxy(t, endpoint, cfg.Table, loadEffective(t, lv.files))
			st := newStore(t, serveCfg, p.URL())
			for _, m := range lv.deny {
				if err := calls[m](st); !errors.Is(err, store.ErrAccessDenied) {
					t.Errorf("%s with %v: want access denied, got %v", m, lv.files, err)
				}
				covered[m] = true
			}
			p.reset()
			for _, m := range lv.allow {
				if err := calls[m](st); err != nil {
					t.Errorf("%s with %v: %v", m, lv.files, err)
				}
				covered[m] = true
			}
			allowed, denied := p.actions()
			if len(denied) > 0 {
				t.Errorf("%v denied %v to %v", lv.files, denied, lv.allow)
			}
			added := loadEffective(t, []string{lv.adds}).actions()
			for _, a := range added {
				if !slices.Contains(allowed, a) {
					t.Errorf("%s grants %s, which %v never used (least privilege)", lv.adds, a, lv.allow)
				}
			}
		})
	}
	for _, m := range methods {
		if !covered[m] {
			t.Errorf("serve's Store method %s was not checked at any policy level", m)
		}
	}
	if sts.Calls.Load() == 0 {
		t.Error("serve's writes never asked STS for the caller: the items checked carry no callerArn")
	}
}

// stepRollout writes the next revision of the first rollout in the table, recording a step.
func stepRollout(ctx context.Context, st *store.Store, u store.RolloutUpdate) error {
	rs, err := st.Rollouts(ctx)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return errors.New("no rollout in the table")
	}
	r := rs[0]
	r.Record(time.Now(), "shipcheck", "dynamo-cmp serve", "")
	_, err = st.UpdateRollout(ctx, r, u)
	return err
}

// serveStoreMethods lists the methods of serve.Store, embedded interfaces included, from the
// source (not by importing internal/serve, whose state this test should not depend on).
func serveStoreMethods(t *testing.T) []string {
	t.Helper()
	root := repoRoot(t)
	ifaces := map[string]*ast.InterfaceType{}
	for _, dir := range []string{"internal/serve", "internal/ops"} {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == "Store" {
					if it, ok := ts.Type.(*ast.InterfaceType); ok {
						ifaces[filepath.Base(dir)+"."+ts.Name.Name] = it
					}
				}
				return true
			})
		}
	}
	var methods []string
	var walk func(name string)
	walk = func(name string) {
		it := ifaces[name]
		if it == nil {
			t.Fatalf("no interface %s in internal/serve or internal/ops", name)
		}
		for _, f := range it.Methods.List {
			switch x := f.Type.(type) {
			case *ast.FuncType:
				for _, n := range f.Names {
					methods = append(methods, n.Name)
				}
			case *ast.SelectorExpr:
				walk(fmt.Sprint(x.X) + "." + x.Sel.Name)
			case *ast.Ident:
				walk("serve." + x.Name)
			}
		}
	}
	walk("serve.Store")
	slices.Sort(methods)
	return methods
}

func newStore(t testing.TB, cfg store.Config, endpoint string) *store.Store {
	t.Helper()
	cfg.Endpoint = endpoint
	cfg.MaxAttempts = 1
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func namespaceEntry(t testing.TB, name string) config.Entry {
	t.Helper()
	e, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": name, "labels": map[string]any{"team": "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// heads summarises every layer head ("cluster/dev-k3s@1") for before/after comparisons.
func heads(t testing.TB, st *store.Store) []string {
	t.Helper()
	reg, err := st.RegistryState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hs := reg.Heads
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s@%d", h.Ref, h.Version))
	}
	return out
}

// TestLayerWriterPolicyCoversTeamLayers runs what a team's writer of its own cluster layers
// does — console drafts, publish, drafts publish, rollback, history — with only the example
// layer-writer-team-a.json: all succeed, and the file grants exactly the actions they use.
// The same writer is refused another team's layer, an environment layer, policies and
// strategies: a layer writer is never a policy writer by accident.
func TestLayerWriterPolicyCoversTeamLayers(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	publishExamples(t, storeEnv(t, cfg, endpoint))
	dir := t.TempDir()
	layer := func(name, cpu string) string {
		f := filepath.Join(dir, name+"-"+cpu+".yaml")
		writeFile(t, f, strings.Replace(strings.Replace(readRepoFile(t, "examples/layers/cluster/dev-k3s.yaml"),
			"layer: cluster/dev-k3s", "layer: cluster/"+name, 1), `cpu: "2", memory: 4Gi`, `cpu: "`+cpu+`", memory: 4Gi`, 1))
		return f
	}
	pol := loadEffective(t, layerWriterPolicies)
	p := startIAMProxy(t, endpoint, cfg.Table, pol)
	env := storeEnv(t, cfg, p.URL())
	step := func(args ...string) {
		t.Helper()
		if r := run(t, env, args...); r.Code != 0 {
			t.Fatalf("dynamo-cmp %s with %v: %s", strings.Join(args, " "), layerWriterPolicies, r)
		}
	}
	step("config", "publish", "-f", layer("team-a-dev", "2"), "--layer", "cluster/team-a-dev", "-m", "initial", "--actor", "team-a")
	step("config", "publish", "-f", layer("team-a-dev", "3"), "--layer", "cluster/team-a-dev", "-m", "more cpu", "--actor", "team-a")
	step("config", "rollback", "--layer", "cluster/team-a-dev", "--to", "1", "--actor", "team-a")
	// A console edit by the same principal: a draft item in its partition.
	if err := newStore(t, cfg, p.URL()).PutDrafts(context.Background(), config.ClusterLayer("team-a-dev"), []store.Draft{{Entry: namespaceEntry(t, "from-console")}}); err != nil {
		t.Fatalf("a console draft with %v: %v", layerWriterPolicies, err)
	}
	step("config", "drafts", "publish", "--layer", "cluster/team-a-dev", "-m", "console edits", "--actor", "team-a")
	step("config", "history", "--layer", "cluster/team-a-dev")
	allowed, denied := p.actions()
	if len(denied) > 0 {
		t.Errorf("%v denied %v to the team's own commands", layerWriterPolicies, denied)
	}
	if granted := pol.actions(); !slices.Equal(allowed, granted) {
		t.Errorf("the team's commands used %v; %v grants %v: make them equal (least privilege)", allowed, layerWriterPolicies, granted)
	}

	policyFile := filepath.Join(dir, "policy.yaml")
	writeFile(t, policyFile, "name: team-a\nlayers: [cluster/team-a-*]\nnamespaces: [\"*\"]\n")
	strategyFile := filepath.Join(dir, "strategy.yaml")
	writeFile(t, strategyFile, "name: default\nwaves: [{name: all}]\n")
	envChanged := filepath.Join(dir, "env-dev.yaml")
	writeFile(t, envChanged, strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "8"`, 1))
	before := heads(t, newStore(t, cfg, endpoint))
	for _, args := range [][]string{
		{"config", "publish", "-f", layer("team-b-dev", "2"), "--layer", "cluster/team-b-dev", "--actor", "team-a"},
		{"config", "publish", "-f", envChanged, "--layer", "env/dev", "--actor", "team-a"},
		{"config", "publish", "-f", layer("dev-k3s", "3"), "--layer", "cluster/dev-k3s", "--actor", "team-a"},
		{"policy", "put", "-f", policyFile, "--actor", "team-a"},
		{"rollout", "strategy", "put", "-f", strategyFile},
	} {
		r := run(t, env, args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "access denied: the caller may not dynamodb:") {
			t.Errorf("dynamo-cmp %s must be refused by %v: %s", strings.Join(args, " "), layerWriterPolicies, r)
		}
	}
	if after := heads(t, newStore(t, cfg, endpoint)); !slices.Equal(before, after) {
		t.Errorf("the refused commands moved heads: before %v, after %v", before, after)
	}
}
