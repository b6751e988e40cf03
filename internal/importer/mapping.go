package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// InputError is bad input: an object import cannot take, named by cluster, source and object.
type InputError struct{ Problems []string }

func (e *InputError) Error() string { return strings.Join(e.Problems, "\n") }

// secretRefused says why Secrets are not imported.
const secretRefused = "Secrets are not imported: Argo CD caches generated manifests in plain text; keep it with a secrets operator"

// checkObject reports what makes an object impossible to import; "" when it can be.
func checkObject(o Object, skipSecrets bool) (problem string, skip bool) {
	switch {
	case o.APIVersion() == "":
		return "apiVersion is missing", false
	case o.Kind() == "":
		return "kind is missing", false
	case o.Name() == "":
		return "metadata.name is missing (generateName is not supported: every object must be named)", false
	case o.Kind() == "Secret" && o.Group() == "":
		if skipSecrets {
			return "", true
		}
		return secretRefused + " (or pass --skip-secrets to leave Secrets out)", false
	}
	if hasDirective(o.Body) {
		return "a \"$patch\" key cannot be written in a layer (it is a merge directive)", false
	}
	md, _ := o.Body["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	declared := ann[validate.ClusterScopedAnnotation] == "true"
	scoped := validate.IsClusterScopedKind(o.APIVersion(), o.Kind()) || declared
	switch {
	case o.Namespace() == "" && !scoped:
		return fmt.Sprintf("metadata.namespace is missing: %s is not a kind known to be cluster-scoped, and Argo CD would put it in the Application's destination namespace (set the namespace, or annotate a cluster-scoped custom resource %s: \"true\")", o.Kind(), validate.ClusterScopedAnnotation), false
	case o.Namespace() != "" && scoped:
		return fmt.Sprintf("%s is cluster-scoped: metadata.namespace must be left out", o.Kind()), false
	}
	return "", false
}

func hasDirective(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "$patch" || hasDirective(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasDirective(e) {
				return true
			}
		}
	}
	return false
}

// wanted is what rendering an object's entry must give back: the object itself, plus the
// sync option dynamo-cmp sets on every Calico object (docs/import.md lists it).
func wanted(o Object) map[string]any {
	body := o.Body
	if !strings.HasPrefix(o.APIVersion(), "projectcalico.org/") {
		return body
	}
	out := config.DeepCopyMap(body)
	md, _ := out["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		out["metadata"] = md
	}
	ann, _ := md["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		md["annotations"] = ann
	}
	cur, _ := ann[render.SyncOptionsAnnotation].(string)
	switch {
	case cur == "":
		ann[render.SyncOptionsAnnotation] = render.SkipDryRunOption
	case !strings.Contains(cur, "SkipDryRunOnMissingResource="):
		ann[render.SyncOptionsAnnotation] = cur + "," + render.SkipDryRunOption
	}
	return out
}

// mapped is an entry of one cluster and the objects it renders.
type mapped struct {
	entry   config.Entry
	objects []Object
}

// typedKind describes how an object kind maps onto a typed entry.
type typedKind struct {
	kind       string
	namespaced bool
	// fields are the top-level fields copied into the entry (RBAC); spec, when set, flattens
	// the object's spec into the entry.
	fields []string
	spec   bool
}

var typedKinds = map[string]typedKind{
	"rbac.authorization.k8s.io/v1/Role":               {kind: config.KindRole, namespaced: true, fields: []string{"rules"}},
	"rbac.authorization.k8s.io/v1/RoleBinding":        {kind: config.KindRoleBinding, namespaced: true, fields: []string{"roleRef", "subjects"}},
	"rbac.authorization.k8s.io/v1/ClusterRole":        {kind: config.KindClusterRole, fields: []string{"rules", "aggregationRule"}},
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": {kind: config.KindClusterRoleBinding, fields: []string{"roleRef", "subjects"}},
	"networking.k8s.io/v1/NetworkPolicy":              {kind: config.KindNetworkPolicy, namespaced: true, spec: true},
	"projectcalico.org/v3/IPPool":                     {kind: config.KindCalicoIPPool, spec: true},
	"projectcalico.org/v3/NetworkPolicy":              {kind: config.KindCalicoNetworkPolicy, namespaced: true, spec: true},
	"projectcalico.org/v3/GlobalNetworkPolicy":        {kind: config.KindCalicoGlobalNetworkPolicy, spec: true},
	"projectcalico.org/v3/BGPConfiguration":           {kind: config.KindCalicoBGPConfiguration, spec: true},
}

var entryMeta = map[string]bool{"name": true, "namespace": true, "labels": true, "annotations": true}

// metaFields copies name, namespace, labels and annotations of an (escaped) object into an
// entry body; false when its metadata holds anything else.
func metaFields(obj map[string]any, body map[string]any, nameField string, namespaced bool) bool {
	md, _ := obj["metadata"].(map[string]any)
	for k := range md {
		if !entryMeta[k] {
			return false
		}
	}
	body[nameField] = md["name"]
	if ns, ok := md["namespace"]; ok && namespaced {
		body["namespace"] = ns
	}
	for _, f := range []string{"labels", "annotations"} {
		if v, ok := md[f]; ok {
			body[f] = v
		}
	}
	return true
}

// typedCandidate builds the typed entry body of an escaped object; false when the object has
// fields the kind's entry cannot hold.
func typedCandidate(tk typedKind, obj map[string]any) (map[string]any, bool) {
	body := map[string]any{}
	if !metaFields(obj, body, "name", tk.namespaced) {
		return nil, false
	}
	allowed := map[string]bool{"apiVersion": true, "kind": true, "metadata": true}
	for _, f := range tk.fields {
		allowed[f] = true
		if v, ok := obj[f]; ok {
			body[f] = v
		}
	}
	if tk.spec {
		allowed["spec"] = true
		spec, ok := obj["spec"].(map[string]any)
		if !ok && obj["spec"] != nil {
			return nil, false
		}
		for k, v := range spec {
			if _, clash := body[k]; clash || entryMeta[k] {
				return nil, false
			}
			body[k] = v
		}
	}
	for k := range obj {
		if !allowed[k] {
			return nil, false
		}
	}
	return body, true
}

// addonCandidate is the add-on entry of an Argo CD Application rendered for cluster in
// Argo CD's default namespace: its name must be the one dynamo-cmp gives the add-on's
// Application (config.AddonApplicationName), which the add-on's name is recovered from.
func addonCandidate(cluster string, obj map[string]any) (map[string]any, bool) {
	md := asMap(obj["metadata"])
	appName, _ := md["name"].(string)
	if md["namespace"] != config.DefaultArgoCDNamespace || !onlyKeys(obj, "apiVersion", "kind", "metadata", "spec") {
		return nil, false
	}
	rest, ok := strings.CutPrefix(appName, cluster+"-")
	if !ok {
		return nil, false
	}
	name := rest
	if config.AddonApplicationName(cluster, name) != appName && len(rest) > 9 {
		name = rest[:len(rest)-9] // "-" and 8 hex digits of a disambiguated name
	}
	if config.AddonApplicationName(cluster, name) != appName {
		return nil, false
	}
	body := map[string]any{}
	if !metaFields(obj, body, "name", false) {
		return nil, false
	}
	body["name"] = name
	spec := asMap(obj["spec"])
	if !onlyKeys(spec, "project", "source", "destination", "syncPolicy") {
		return nil, false
	}
	if p, ok := spec["project"]; ok {
		body["project"] = p
	}
	dest := asMap(spec["destination"])
	if !onlyKeys(dest, "name", "server", "namespace") {
		return nil, false
	}
	body["namespace"] = dest["namespace"]
	d := map[string]any{}
	for _, f := range []string{"name", "server"} {
		if v, ok := dest[f]; ok {
			d[f] = v
		}
	}
	if len(d) > 0 && !(len(d) == 1 && d["name"] == cluster) { // the cluster itself is the default
		body["destination"] = d
	}
	src := asMap(spec["source"])
	if !onlyKeys(src, "repoURL", "chart", "path", "targetRevision", "helm") || !onlyKeys(asMap(src["helm"]), "releaseName", "valuesObject") {
		return nil, false
	}
	if _, ok := src["chart"]; ok {
		body["chart"] = map[string]any{"repoURL": src["repoURL"], "chart": src["chart"], "version": src["targetRevision"]}
	} else {
		g := map[string]any{"repoURL": src["repoURL"], "path": src["path"]}
		if rev, ok := src["targetRevision"]; ok && rev != "HEAD" {
			g["revision"] = rev
		}
		body["git"] = g
	}
	if v, ok := asMap(src["helm"])["valuesObject"]; ok {
		body["values"] = v
	}
	if sp, ok := spec["syncPolicy"]; ok {
		body["syncPolicy"] = sp
	}
	return body, true
}

// quotaCandidate is the resourceQuota of a namespace entry for a ResourceQuota object.
func quotaCandidate(obj map[string]any) (map[string]any, bool) {
	if !onlyKeys(obj, "apiVersion", "kind", "metadata", "spec") || !onlyKeys(asMap(obj["metadata"]), "name", "namespace") {
		return nil, false
	}
	spec := asMap(obj["spec"])
	if !onlyKeys(spec, "hard", "scopes", "scopeSelector") {
		return nil, false
	}
	q := map[string]any{"name": asMap(obj["metadata"])["name"]}
	for k, v := range spec {
		q[k] = v
	}
	if _, ok := q["hard"]; !ok {
		q["hard"] = map[string]any{}
	}
	return q, true
}

// limitRangeCandidate is the limitRange of a namespace entry for a LimitRange object.
func limitRangeCandidate(obj map[string]any) (map[string]any, bool) {
	if !onlyKeys(obj, "apiVersion", "kind", "metadata", "spec") || !onlyKeys(asMap(obj["metadata"]), "name", "namespace") {
		return nil, false
	}
	spec := asMap(obj["spec"])
	if !onlyKeys(spec, "limits") {
		return nil, false
	}
	limits, _ := spec["limits"].([]any)
	lr := map[string]any{"name": asMap(obj["metadata"])["name"]}
	fields := map[string]string{"Container": "container", "Pod": "pod", "PersistentVolumeClaim": "persistentVolumeClaim"}
	for _, l := range limits {
		item := asMap(l)
		typ, _ := item["type"].(string)
		f, ok := fields[typ]
		if !ok {
			return nil, false
		}
		if _, dup := lr[f]; dup {
			return nil, false
		}
		vals := map[string]any{}
		for k, v := range item {
			if k != "type" {
				vals[k] = v
			}
		}
		lr[f] = vals
	}
	return lr, true
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func onlyKeys(m map[string]any, keys ...string) bool {
	for k := range m {
		ok := false
		for _, want := range keys {
			if k == want {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// checkCluster is the cluster record typed entries are rendered under to check them: their
// names are explicit, so nothing of it reaches the objects.
const checkCluster = "import-check"

// renderCheck answers rendersExactly once per distinct question: clusters share most objects.
type renderCheck map[string]bool

func (rc renderCheck) rendersExactly(entries []config.Entry, want []map[string]any) bool {
	return rc.rendersExactlyFor(config.Cluster{Name: checkCluster}, entries, want)
}

// rendersExactlyFor asks it for a cluster (add-ons render names and destinations of it).
func (rc renderCheck) rendersExactlyFor(rec config.Cluster, entries []config.Entry, want []map[string]any) bool {
	var key strings.Builder
	key.WriteString(rec.Name + "\x00" + strings.Join(rec.Projects, ",") + "\x00")
	for _, e := range entries {
		key.WriteString(e.Kind + "\x00" + canonicalJSON(e.Body) + "\x00")
	}
	for _, w := range want {
		key.WriteString(canonicalJSON(w) + "\x00")
	}
	k := key.String()
	if v, ok := rc[k]; ok {
		return v
	}
	v := rendersExactly(rec, entries, want)
	rc[k] = v
	return v
}

// rendersExactly reports whether entries render exactly the wanted objects (canonical JSON),
// through the renderer generate uses.
func rendersExactly(c config.Cluster, entries []config.Entry, want []map[string]any) bool {
	recBody := map[string]any{"name": c.Name, "environment": "import", "region": "import"}
	if len(c.Projects) > 0 {
		recBody["projects"] = toAnyList(c.Projects)
	}
	rec, err := config.NewEntry(config.KindCluster, recBody)
	if err != nil {
		return false
	}
	layer := config.Layer{Ref: config.ClusterLayer(c.Name), Entries: append([]config.Entry{rec}, entries...)}
	model, err := validate.Resolve([]config.Layer{layer}, c.Name)
	if err != nil {
		return false
	}
	out, err := render.Render(model, render.Options{Format: render.FormatJSON})
	if err != nil {
		return false
	}
	got, err := parseJSONStream(out.Bytes())
	if err != nil || len(got) != len(want) {
		return false
	}
	wantSet := map[string]int{}
	for _, w := range want {
		wantSet[canonicalJSON(w)]++
	}
	for _, g := range got {
		k := canonicalJSON(g)
		if wantSet[k] == 0 {
			return false
		}
		wantSet[k]--
	}
	return true
}

// parseJSONStream reads one JSON object per line (generate's format) into plain values.
func parseJSONStream(data []byte) ([]map[string]any, error) {
	var out []map[string]any
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		n, err := config.NormalizeBody(numbersToRaw(m).(map[string]any))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// numbersToRaw turns json.Numbers into int64 or float64.
func numbersToRaw(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = numbersToRaw(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = numbersToRaw(e)
		}
		return t
	default:
		return v
	}
}

// mapCluster maps the objects of one cluster onto entries (escaped bodies): typed entries
// where the layer model knows the kind and the entry renders the object back exactly, extra
// manifests otherwise.
func mapCluster(rec config.Cluster, objs []Object, rc renderCheck) ([]mapped, error) {
	var out []mapped
	byNS := map[string]Object{}
	quotas := map[string][]Object{}
	limits := map[string][]Object{}
	var rest []Object
	for _, o := range objs {
		switch {
		case o.APIVersion() == "v1" && o.Kind() == "Namespace":
			byNS[o.Name()] = o
		case o.APIVersion() == "v1" && o.Kind() == "ResourceQuota":
			quotas[o.Namespace()] = append(quotas[o.Namespace()], o)
		case o.APIVersion() == "v1" && o.Kind() == "LimitRange":
			limits[o.Namespace()] = append(limits[o.Namespace()], o)
		default:
			rest = append(rest, o)
		}
	}
	nsNames := slices.Sorted(maps.Keys(byNS))
	for _, name := range nsNames {
		o := byNS[name]
		esc := escapeValue(o.Body).(map[string]any)
		body := map[string]any{}
		if !onlyKeys(esc, "apiVersion", "kind", "metadata") || !metaFields(esc, body, "namespace", false) {
			rest = append(rest, o)
			continue
		}
		e, err := config.NewEntry(config.KindNamespace, body)
		if err != nil || !rc.rendersExactly([]config.Entry{e}, []map[string]any{wanted(o)}) {
			rest = append(rest, o)
			continue
		}
		m := mapped{entry: e, objects: []Object{o}}
		for _, part := range []struct {
			field string
			objs  []Object
			cand  func(map[string]any) (map[string]any, bool)
		}{{"resourceQuota", quotas[name], quotaCandidate}, {"limitRange", limits[name], limitRangeCandidate}} {
			for i, po := range part.objs {
				if i > 0 { // a namespace entry holds one of each
					rest = append(rest, po)
					continue
				}
				sub, ok := part.cand(escapeValue(po.Body).(map[string]any))
				if !ok {
					rest = append(rest, po)
					continue
				}
				nb := config.DeepCopyMap(m.entry.Body)
				nb[part.field] = sub
				ne, err := config.NewEntry(config.KindNamespace, nb)
				want := []map[string]any{}
				for _, x := range append(append([]Object(nil), m.objects...), po) {
					want = append(want, wanted(x))
				}
				if err != nil || !rc.rendersExactly([]config.Entry{ne}, want) {
					rest = append(rest, po)
					continue
				}
				m.entry, m.objects = ne, append(m.objects, po)
			}
		}
		out = append(out, m)
	}
	for ns, qs := range quotas {
		if _, ok := byNS[ns]; !ok {
			rest = append(rest, qs...)
		}
	}
	for ns, ls := range limits {
		if _, ok := byNS[ns]; !ok {
			rest = append(rest, ls...)
		}
	}
	manifestAt := map[string]Object{}
	var errs []string
	for _, o := range rest {
		esc := escapeValue(o.Body).(map[string]any)
		if o.APIVersion() == "argoproj.io/v1alpha1" && o.Kind() == "Application" {
			if body, ok := addonCandidate(rec.Name, esc); ok {
				if e, err := config.NewEntry(config.KindAddon, body); err == nil && rc.rendersExactlyFor(rec, []config.Entry{e}, []map[string]any{wanted(o)}) {
					out = append(out, mapped{entry: e, objects: []Object{o}})
					continue
				}
			}
		}
		if tk, ok := typedKinds[o.APIVersion()+"/"+o.Kind()]; ok {
			if body, ok := typedCandidate(tk, esc); ok {
				if e, err := config.NewEntry(tk.kind, body); err == nil && rc.rendersExactly([]config.Entry{e}, []map[string]any{wanted(o)}) {
					out = append(out, mapped{entry: e, objects: []Object{o}})
					continue
				}
			}
		}
		e, err := config.NewEntry(config.KindManifest, esc)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", o.where(), err))
			continue
		}
		if prev, dup := manifestAt[e.Key]; dup {
			errs = append(errs, fmt.Sprintf("%s: %s (%s) and %s (%s, %s) would be the same extra manifest %s: a layer keys manifests by kind, namespace and name", o.where(), o.Ref(), o.APIVersion(), prev.Ref(), prev.APIVersion(), prev.Source, e.Key))
			continue
		}
		manifestAt[e.Key] = o
		out = append(out, mapped{entry: e, objects: []Object{o}})
	}
	if len(errs) > 0 {
		return nil, &InputError{Problems: errs}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].entry.ID() < out[j].entry.ID() })
	return out, nil
}
