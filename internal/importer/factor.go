package importer

import (
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Factoring puts each entry at the lowest layer that can hold it for every cluster that has
// it: an entry every cluster has goes to global, one every cluster of an environment has to
// env/<environment>, the rest to cluster/<name>; an entry every cluster (of the fleet, or of
// an environment of three or more) has but one goes there too, deleted in that one's layer.
// The body written low is the consensus of the clusters (per field, the value most of them
// have, with ${cluster.name}, ${cluster.region}, ${env} or ${vars.<name>} where a value
// differs only by them), and each layer above carries only
// the fields that differ, as the merge rules read them: a changed key, "key: null" for a key
// the cluster lacks, a keyed list with a {$patch: replace} element. Every override is checked
// by merging it with merge.Merge; one that does not give the cluster's value back is written
// as the whole entry with "$patch: replace".

// clusterInfo is what factoring knows of a cluster.
type clusterInfo struct {
	name, env string
	v         vars
}

// member is one cluster's version of an entry: its escaped body, concrete.
type member struct {
	c       clusterInfo
	body    map[string]any
	objects []Object
}

// group is an entry as the clusters that have it share it: same kind and key (the key
// possibly written with variables).
type group struct {
	kind, key string
	// templated: the key is written with variables (each member's own name or region).
	templated bool
	members   []member
}

// placed is the factoring result.
type placed struct {
	layers map[config.LayerRef][]config.Entry
	// stats per group placement, for the report
	shared, perEnv, perCluster int
	overrides                  map[config.LayerRef]int
	replaced                   int
	variables                  int
	// deletions: entries written for every cluster but one, deleted in that one's layer
	deletions int
}

// groupEntries groups the clusters' entries, writing a key with variables when more clusters
// share it that way than share the literal key.
func groupEntries(clusters []clusterInfo, entries map[string][]mapped) ([]*group, error) {
	type cand struct {
		raw, tmpl string
	}
	rawCount := map[string]int{}
	tmplCount := map[string]int{}
	cands := map[string][]cand{}
	for _, c := range clusters {
		for _, m := range entries[c.name] {
			raw := m.entry.ID()
			tid := raw
			if te, err := config.NewEntry(m.entry.Kind, mapStrings(m.entry.Body, c.v.template).(map[string]any)); err == nil {
				tid = te.ID()
			}
			rawCount[raw]++
			if tid != raw {
				tmplCount[tid]++
			}
			cands[c.name] = append(cands[c.name], cand{raw, tid})
		}
	}
	groups := map[string]*group{}
	apiVersions := map[string]Object{}
	var problems []string
	for _, c := range clusters {
		for i, m := range entries[c.name] {
			cd := cands[c.name][i]
			id, templated := cd.raw, false
			if cd.tmpl != cd.raw && tmplCount[cd.tmpl] > rawCount[cd.raw] {
				id, templated = cd.tmpl, true
			}
			g := groups[id]
			if g == nil {
				kind, key, _ := strings.Cut(id, "/")
				g = &group{kind: kind, key: key, templated: templated}
				groups[id] = g
			}
			if m.entry.Kind == config.KindManifest {
				o := m.objects[0]
				if prev, ok := apiVersions[id]; ok && prev.Group() != o.Group() {
					problems = append(problems, fmt.Sprintf("%s: is %s here, but cluster %s (%s) has %s as %s: the two clusters disagree on the identity of %s (one layer entry cannot be both); rename one, or import the clusters separately",
						o.where(), o.APIVersion(), prev.Cluster, prev.Source, prev.Ref(), prev.APIVersion(), o.Ref()))
				} else if !ok {
					apiVersions[id] = o
				}
			}
			g.members = append(g.members, member{c: c, body: m.entry.Body, objects: m.objects})
		}
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	out := make([]*group, 0, len(groups))
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, groups[id])
	}
	return out, nil
}

// factor places every group into layers.
func factor(clusters []clusterInfo, groups []*group) (*placed, error) {
	p := &placed{layers: map[config.LayerRef][]config.Entry{}, overrides: map[config.LayerRef]int{}}
	envClusters := map[string][]string{}
	for _, c := range clusters {
		envClusters[c.env] = append(envClusters[c.env], c.name)
	}
	for _, g := range groups {
		if err := p.place(g, clusters, envClusters); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *placed) add(ref config.LayerRef, kind string, body map[string]any) error {
	if ref.Scope != config.ScopeCluster && usesVariables(body) {
		p.variables++
	}
	e, err := config.NewEntry(kind, body)
	if err != nil {
		return fmt.Errorf("import: %s: %w", ref, err)
	}
	p.layers[ref] = append(p.layers[ref], e)
	return nil
}

func (p *placed) place(g *group, clusters []clusterInfo, envClusters map[string][]string) error {
	has := map[string]member{}
	for _, m := range g.members {
		has[m.c.name] = m
	}
	byEnv := map[string][]member{}
	for _, m := range g.members {
		byEnv[m.c.env] = append(byEnv[m.c.env], m)
	}
	identity := g.identity()
	// An entry every cluster has but one is written as if all had it, with a deletion in the
	// one cluster's layer (unless its clusters are exactly one environment's: then the env
	// layer holds it without a deletion).
	lacking := func(names []string) []string {
		var out []string
		for _, n := range names {
			if _, ok := has[n]; !ok {
				out = append(out, n)
			}
		}
		return out
	}
	var all []string
	for _, c := range clusters {
		all = append(all, c.name)
	}
	fleetLacking := lacking(all)
	oneEnvWhole := false
	if len(byEnv) == 1 {
		for env, ms := range byEnv {
			oneEnvWhole = len(ms) >= 2 && len(ms) == len(envClusters[env])
		}
	}
	if len(clusters) >= 2 && len(fleetLacking) == 0 || len(clusters) >= 3 && len(fleetLacking) == 1 && !oneEnvWhole {
		p.shared++
		for _, name := range fleetLacking {
			if err := p.deleteIn(name, g.kind, identity); err != nil {
				return err
			}
		}
		// The base is the consensus of the environments' own (each weighing its clusters), so
		// that a value one environment shares stays whole in its env layer.
		// An environment's consensus is compared, and generalised, with the values its
		// clusters share (${env} at least).
		var envVals []cval
		for _, env := range slices.Sorted(maps.Keys(byEnv)) {
			ms := byEnv[env]
			envVals = append(envVals, cval{v: envVars(ms), raw: consensus(ms), weight: len(ms)})
		}
		base := withIdentity(g.kind, consensusOf(envVals).(map[string]any), identity)
		if err := p.add(config.GlobalLayer, g.kind, base); err != nil {
			return err
		}
		for _, env := range slices.Sorted(maps.Keys(byEnv)) {
			ms := byEnv[env]
			lower := base
			if len(ms) >= 2 {
				target := withIdentity(g.kind, consensus(ms).(map[string]any), identity)
				ev := envVars(ms)
				ov, err := p.override(g.kind, []map[string]any{base}, target, identity, &ev)
				if err != nil {
					return err
				}
				if ov != nil {
					if err := p.add(config.EnvLayer(env), g.kind, ov); err != nil {
						return err
					}
					p.overrides[config.EnvLayer(env)]++
					lower, err = mergeBodies(g.kind, base, ov)
					if err != nil {
						return err
					}
				}
			}
			for _, m := range ms {
				if err := p.clusterOverride(g, m, lower, identity); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, env := range slices.Sorted(maps.Keys(byEnv)) {
		ms := byEnv[env]
		envLacking := lacking(envClusters[env])
		if len(envClusters[env]) >= 2 && len(envLacking) == 0 || len(envClusters[env]) >= 3 && len(envLacking) == 1 {
			p.perEnv++
			base := withIdentity(g.kind, consensus(ms).(map[string]any), identity)
			if err := p.add(config.EnvLayer(env), g.kind, base); err != nil {
				return err
			}
			for _, name := range envLacking {
				if err := p.deleteIn(name, g.kind, identity); err != nil {
					return err
				}
			}
			for _, m := range ms {
				if err := p.clusterOverride(g, m, base, identity); err != nil {
					return err
				}
			}
			continue
		}
		for _, m := range ms {
			p.perCluster++
			if err := p.add(config.ClusterLayer(m.c.name), g.kind, m.body); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteIn writes, in the cluster's layer, the deletion of the entry (its key) that a lower
// layer holds for the other clusters: {$patch: delete} with the entry's key fields.
func (p *placed) deleteIn(cluster, kind string, identity map[string]any) error {
	body := withIdentity(kind, map[string]any{"$patch": "delete"}, identity)
	p.deletions++
	p.overrides[config.ClusterLayer(cluster)]++
	return p.add(config.ClusterLayer(cluster), kind, body)
}

// clusterOverride writes what a cluster changes of the entry below it (lower, generalised).
func (p *placed) clusterOverride(g *group, m member, lower map[string]any, identity map[string]any) error {
	ov, err := p.override(g.kind, []map[string]any{lower}, m.body, identity, &m.c.v)
	if err != nil {
		return err
	}
	if ov == nil {
		return nil
	}
	ref := config.ClusterLayer(m.c.name)
	p.overrides[ref]++
	return p.add(ref, g.kind, ov)
}

// usesVariables reports whether a body holds a variable reference.
func usesVariables(body map[string]any) bool {
	found := false
	mapStrings(body, func(s string) string {
		found = found || hasReference(s)
		return s
	})
	return found
}

// override returns the smallest body that, merged over lowers, gives target (v set: both
// compared after substituting those variables — a cluster's, or those an environment's
// clusters share), or nil when nothing differs.
func (p *placed) override(kind string, lowers []map[string]any, target, identity map[string]any, v *vars) (map[string]any, error) {
	merged, err := mergeBodies(kind, lowers...)
	if err != nil {
		return nil, err
	}
	sub := func(x any) any { return x }
	if v != nil {
		sub = func(x any) any { return mapStrings(x, v.detemplate) }
	}
	cmpLower := sub(merged)
	target = sub(target).(map[string]any)
	if reflect.DeepEqual(cmpLower, target) {
		return nil, nil
	}
	d, _ := diff(cmpLower, target)
	ov, _ := d.(map[string]any)
	if ov == nil {
		ov = map[string]any{}
	}
	ov = withIdentity(kind, ov, identity)
	if got, err := mergeBodies(kind, append(append([]map[string]any(nil), lowers...), ov)...); err == nil && reflect.DeepEqual(sub(got), target) {
		return ov, nil
	}
	p.replaced++
	full := withIdentity(kind, config.DeepCopyMap(target), identity)
	full["$patch"] = "replace"
	return full, nil
}

// mergeBodies merges entry bodies (lowest first) with the merge dynamo-cmp applies.
func mergeBodies(kind string, bodies ...map[string]any) (map[string]any, error) {
	var layers []config.Layer
	for i, b := range bodies {
		e, err := config.NewEntry(kind, b)
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		layers = append(layers, config.Layer{Ref: config.ClusterLayer(fmt.Sprintf("l%d", i)), Entries: []config.Entry{e}})
	}
	m, err := merge.Merge(layers)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if len(m.Entries) != 1 {
		return nil, fmt.Errorf("import: merging %d bodies left %d entries", len(bodies), len(m.Entries))
	}
	return m.Entries[0].Body, nil
}

// diff returns what to write over lower to get target under the merge rules, and whether
// anything differs.
func diff(lower, target any) (any, bool) {
	if reflect.DeepEqual(lower, target) {
		return nil, false
	}
	lm, lok := lower.(map[string]any)
	tm, tok := target.(map[string]any)
	if lok && tok {
		out := map[string]any{}
		for k, tv := range tm {
			lv, has := lm[k]
			if !has {
				out[k] = tv
				continue
			}
			if d, differs := diff(lv, tv); differs {
				out[k] = d
			}
		}
		for k := range lm {
			if _, has := tm[k]; !has {
				out[k] = nil
			}
		}
		return out, len(out) > 0
	}
	ll, lok := lower.([]any)
	tl, tok := target.([]any)
	if lok && tok && keyedList(ll) && keyedList(tl) {
		return append(append([]any(nil), tl...), map[string]any{"$patch": "replace"}), true
	}
	return target, true
}

// keyedList mirrors the merge: a list whose elements all carry a string name merges element
// by element.
func keyedList(list []any) bool {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

// identityPaths are the fields that make an entry's key.
func identityPaths(kind string) [][]string {
	switch kind {
	case config.KindNamespace:
		return [][]string{{"namespace"}}
	case config.KindManifest:
		return [][]string{{"kind"}, {"metadata", "name"}, {"metadata", "namespace"}}
	case config.KindRole, config.KindRoleBinding, config.KindNetworkPolicy, config.KindCalicoNetworkPolicy:
		return [][]string{{"name"}, {"namespace"}}
	default:
		return [][]string{{"name"}}
	}
}

// identity returns the key fields of the group as written: with variables when the key is.
func (g *group) identity() map[string]any {
	m := g.members[0]
	body := m.body
	if g.templated {
		body = mapStrings(body, m.c.v.template).(map[string]any)
	}
	out := map[string]any{}
	for _, path := range identityPaths(g.kind) {
		if v, ok := getPath(body, path); ok {
			setPath(out, path, v)
		}
	}
	return out
}

// withIdentity sets the key fields of body (a copy of the maps on the way) to identity's.
func withIdentity(kind string, body, identity map[string]any) map[string]any {
	out := shallowCopy(body)
	for _, path := range identityPaths(kind) {
		if v, ok := getPath(identity, path); ok {
			setPath(out, path, v)
		}
	}
	return out
}

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func getPath(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		cm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = cm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// setPath sets a value, copying the maps along the path so shared bodies stay unchanged.
func setPath(m map[string]any, path []string, v any) {
	if len(path) == 1 {
		m[path[0]] = v
		return
	}
	child, _ := m[path[0]].(map[string]any)
	child = shallowCopy(child)
	m[path[0]] = child
	setPath(child, path[1:], v)
}

// consensus is the generalised value most members share: maps field by field (a field most
// members have), any other value whole, preferring the literal value, then one written with
// ${cluster.name}/${cluster.region} that gives each member its own. Ties go to the member
// listed first, so that a base drawn from an even split reads like one cluster's object.
func consensus(ms []member) any {
	vals := make([]cval, len(ms))
	for i, m := range ms {
		vals[i] = cval{v: m.c.v, raw: m.body, weight: 1}
	}
	return consensusOf(vals)
}

// cval is a value to take the consensus of: a cluster's value with its variables, or an
// environment's consensus with the variables its clusters share. A candidate is compared
// with it after substituting those variables into the candidate.
type cval struct {
	v      vars
	raw    any
	weight int
}

func (x cval) detemplate(cand any) any { return mapStrings(cand, x.v.detemplate) }

func (x cval) template() any { return mapStrings(x.raw, x.v.template) }

// envVars are the variables every member shares (their environment's ${env}, and a region
// or free variable they all have).
func envVars(ms []member) vars {
	vs := make([]vars, len(ms))
	for i, m := range ms {
		vs[i] = m.c.v
	}
	return common(vs)
}

func consensusOf(vals []cval) any {
	allEqual := true
	for _, x := range vals[1:] {
		if !reflect.DeepEqual(x.raw, vals[0].raw) {
			allEqual = false
			break
		}
	}
	if allEqual {
		return vals[0].raw
	}
	allMaps := true
	total := 0
	for _, x := range vals {
		total += x.weight
		if _, ok := x.raw.(map[string]any); !ok {
			allMaps = false
		}
	}
	if allMaps {
		keys := map[string]int{}
		for _, x := range vals {
			for k := range x.raw.(map[string]any) {
				keys[k] += x.weight
			}
		}
		out := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if keys[k]*2 < total || keys[k]*2 == total && !hasKey(vals[0].raw, k) {
				continue
			}
			var sub []cval
			for _, x := range vals {
				if e, ok := x.raw.(map[string]any)[k]; ok {
					sub = append(sub, cval{v: x.v, raw: e, weight: x.weight})
				}
			}
			out[k] = consensusOf(sub)
		}
		return out
	}
	var best any
	bestScore, bestRefs := -1, false
	seen := map[string]bool{}
	for _, x := range vals {
		for i, cand := range []any{x.raw, x.template()} {
			key := canonicalJSON(cand)
			if seen[key] {
				continue
			}
			seen[key] = true
			score := 0
			for _, y := range vals {
				if reflect.DeepEqual(y.detemplate(cand), y.raw) {
					score += y.weight
				}
			}
			refs := i == 1
			if score > bestScore || score == bestScore && bestRefs && !refs {
				best, bestScore, bestRefs = cand, score, refs
			}
		}
	}
	return best
}

func hasKey(v any, k string) bool {
	m, _ := v.(map[string]any)
	_, ok := m[k]
	return ok
}

// sortedRefs lists layer refs global, env, cluster.
func sortedRefs(m map[config.LayerRef][]config.Entry) []config.LayerRef {
	out := make([]config.LayerRef, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scope != out[j].Scope {
			return out[i].Scope < out[j].Scope
		}
		return out[i].Name < out[j].Name
	})
	return out
}
