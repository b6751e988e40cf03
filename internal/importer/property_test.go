package importer

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestImportRoundTripsAnyFleet is the import's invariant over generated fleets: for random
// per-cluster object sets (clusters sharing some objects, differing in some fields, by their
// own name, region, environment or a free variable of its record, by literal "${" text, by
// keyed lists), import then render gives back every cluster's objects exactly. Prove checks it through the written files and the pipeline
// generate uses.
func TestImportRoundTripsAnyFleet(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		names := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"a", "b", "dev-a", "prod-eu1", "eu1", "x-a", "c1"}), 1, 5, rapid.ID[string]).Draw(rt, "clusters")
		var inputs []ClusterInput
		nTemplates := 8
		// Which templates exist in the fleet, and which clusters have each.
		present := make([][]bool, len(names))
		for i := range names {
			present[i] = make([]bool, nTemplates)
			for j := range nTemplates {
				present[i][j] = rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("has%d-%d", i, j)) > 0
			}
		}
		for i, name := range names {
			env := rapid.SampledFrom([]string{"dev", "prod"}).Draw(rt, "env-"+name)
			region := rapid.SampledFrom([]string{"eu-west-1", "us-east-1", "a", "eu1"}).Draw(rt, "region-"+name)
			// A free variable of the record, often the same across clusters, sometimes absent.
			account := rapid.SampledFrom([]string{"", "111111111111", "222222222222", "acct-" + name}).Draw(rt, "account-"+name)
			var recVars map[string]string
			if account != "" {
				recVars = map[string]string{"account": account}
			}
			g := &fleetGen{rt: rt, cluster: name, region: region, env: env, account: account}
			var objs []Object
			for j := range nTemplates {
				if !present[i][j] {
					continue
				}
				for k, body := range g.objects(j) {
					norm, err := config.NormalizeBody(body) // as if decoded from a file
					if err != nil {
						rt.Fatal(err)
					}
					objs = append(objs, Object{Cluster: name, Source: fmt.Sprintf("gen-%d-%d", j, k), Body: norm})
				}
			}
			inputs = append(inputs, ClusterInput{Record: config.Cluster{Name: name, Environment: env, Region: region, Projects: []string{"p"}, Vars: recVars}, Objects: objs})
		}
		if countObjects(inputs) == 0 {
			return
		}
		res, err := Import(inputs, Options{})
		if err != nil {
			rt.Fatalf("import: %v", err)
		}
		dir := t.TempDir()
		if err := res.Write(dir); err != nil {
			rt.Fatal(err)
		}
		if err := res.Prove(dir, nil); err != nil {
			rt.Fatalf("%v", err)
		}
	})
}

func countObjects(in []ClusterInput) int {
	n := 0
	for _, c := range in {
		n += len(c.Objects)
	}
	return n
}

type fleetGen struct {
	rt                            *rapid.T
	cluster, region, env, account string
	n                             int
}

func (g *fleetGen) draw(gen *rapid.Generator[string]) string {
	g.n++
	return gen.Draw(g.rt, fmt.Sprintf("%s-v%d", g.cluster, g.n))
}

// label draws a valid label value, often the cluster's name, region, environment or
// account, or made of them.
func (g *fleetGen) label() string {
	acct := "x"
	if g.account != "" {
		acct = "acct-" + g.account
	}
	return g.draw(rapid.SampledFrom([]string{"x", "a-team", g.cluster, g.region, g.cluster + "-team", "team-" + g.region, g.env, g.env + "-" + g.region, acct}))
}

// text draws any string value, with "${" and "$" traps.
func (g *fleetGen) text() string {
	return g.draw(rapid.SampledFrom([]string{"x", "", g.cluster, g.region, "$" + g.cluster, "${y}", "$${z}", "${cluster.name}", g.cluster + "." + g.region + ".example.com", "eu-west-1",
		"${env}", g.env, "arn:aws:iam::" + g.account + ":role/" + g.env + "-admin", "$${vars.account}"}))
}

func (g *fleetGen) name(shared string) string {
	return g.draw(rapid.SampledFrom([]string{shared, g.cluster + "-" + shared}))
}

func (g *fleetGen) maybe() bool {
	g.n++
	return rapid.Bool().Draw(g.rt, fmt.Sprintf("%s-b%d", g.cluster, g.n))
}

func (g *fleetGen) labels() map[string]any {
	out := map[string]any{}
	for _, k := range []string{"team", "where", "tier"} {
		if g.maybe() {
			out[k] = g.label()
		}
	}
	return out
}

func meta(name, ns string, labels map[string]any) map[string]any {
	md := map[string]any{"name": name}
	if ns != "" {
		md["namespace"] = ns
	}
	if len(labels) > 0 {
		md["labels"] = labels
	}
	return md
}

func (g *fleetGen) objects(template int) []map[string]any {
	ns := "apps"
	switch template {
	case 0: // a namespace with a quota and a limit range
		name := g.name("team")
		out := []map[string]any{{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, "", g.labels())}}
		if g.maybe() {
			out = append(out, map[string]any{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta("compute", name, nil),
				"spec": map[string]any{"hard": map[string]any{"cpu": g.draw(rapid.SampledFrom([]string{"1", "2"})), "pods": "10"}}})
		}
		if g.maybe() {
			out = append(out, map[string]any{"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("limits", name, nil),
				"spec": map[string]any{"limits": []any{map[string]any{"type": "Container", "default": map[string]any{"cpu": g.draw(rapid.SampledFrom([]string{"500m", "1"}))}}}}})
		}
		return out
	case 1: // a config map with free text
		data := map[string]any{}
		for _, k := range []string{"a", "b", "c"} {
			if g.maybe() {
				data[k] = g.text()
			}
		}
		return []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(g.name("info"), ns, g.labels()), "data": data}}
	case 2: // a role
		verbs := []any{"get"}
		if g.maybe() {
			verbs = append(verbs, "list")
		}
		return []map[string]any{{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta("reader", ns, nil),
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": verbs}}}}
	case 3: // a binding: a keyed list of subjects
		var subs []any
		for _, s := range []string{"alice", "bob", g.cluster + "-ops"} {
			if g.maybe() {
				subs = append(subs, map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": s})
			}
		}
		if len(subs) == 0 {
			subs = []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "root"}}
		}
		return []map[string]any{{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta("readers", ns, nil),
			"roleRef": map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}, "subjects": subs}}
	case 4: // a cluster role, named per cluster or not
		return []map[string]any{{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(g.name("viewer"), "", g.labels()),
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"nodes"}, "verbs": []any{"get"}}}}}
	case 5: // a network policy
		spec := map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}}
		if g.maybe() {
			spec["podSelector"] = map[string]any{"matchLabels": map[string]any{"app": g.label()}}
		}
		return []map[string]any{{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny", ns, nil), "spec": spec}}
	case 6: // a Calico IP pool
		return []map[string]any{{"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": meta("pool", "", nil),
			"spec": map[string]any{"cidr": g.draw(rapid.SampledFrom([]string{"10.0.0.0/16", "10.1.0.0/16"})), "natOutgoing": true}}}
	default: // a custom resource with a keyed list, nested maps and numbers
		var items []any
		for _, s := range []string{"one", "two", "three"} {
			if g.maybe() {
				items = append(items, map[string]any{"name": s, "value": g.text()})
			}
		}
		spec := map[string]any{"items": items, "replicas": int64(len(items)), "nested": map[string]any{"x": g.text(), "y": map[string]any{"z": g.label()}}}
		if g.maybe() {
			spec["empty"] = map[string]any{}
		}
		return []map[string]any{{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("w", ns, g.labels()), "spec": spec}}
	}
}
