package provenance

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
)

// Provenance answers "which layer set this field?" for the objects rendered from a cluster's
// configuration. It replays the merge and the resolution of the layers on its own, so that
// generate and render pay nothing for it.
//
// A field of a rendered object is traced back to the entry that renders the object (the
// same claims validation uses to detect duplicates), then to the field of the entry's merged
// body that carries the same value at the best matching path (spec.hard.cpu ←
// resourceQuota.hard.cpu), and from there to the highest layer whose own entry sets that
// field. Fields no entry sets are the renderer's defaults; labels and annotations no entry
// sets come from the settings' common metadata when they hold them; fields a patch changed
// are the patch's.
type Provenance struct {
	merged  *merge.Merged
	model   *config.Model
	cluster string
	// settings is the merged settings entry, nil when no layer has one.
	settings *config.Entry
	vars     merge.Variables
	bodies   map[*config.Entry]map[string]any // entry → merged body with variables substituted
}

// Source is where a value was set: a layer at a version, and the entry and field in it.
type Source struct {
	Layer config.LayerRef `json:"layer"`
	// Version is the layer's published version; 0 for layers read from files.
	Version int `json:"version"`
	// Entry names the entry as layer files do: namespaces[dev-team].
	Entry string `json:"entry"`
	// Field is the location in the entry: resourceQuota.hard.cpu.
	Field string `json:"field,omitempty"`
}

// LayerVersion names the layer and its version as "cluster/prod-eu1@12" ("global" alone for
// a layer read from files).
func (s Source) LayerVersion() string {
	if s.Version == 0 {
		return s.Layer.String()
	}
	return s.Layer.String() + "@" + strconv.Itoa(s.Version)
}

// Where names the entry field: namespaces[dev-team].resourceQuota.hard.cpu.
func (s Source) Where() string {
	if s.Field == "" {
		return s.Entry
	}
	return s.Entry + "." + s.Field
}

// VariableSource is a ${...} reference inside a value and where the variable's value was set.
type VariableSource struct {
	// Name is the variable, e.g. cluster.region.
	Name   string `json:"name"`
	Source Source `json:"source"`
}

// PatchSource names the patch that set a field, and where the patch was set.
type PatchSource struct {
	Name   string `json:"name"`
	Source Source `json:"source"`
}

// FieldOrigin is one leaf field of a rendered object and where its value came from.
type FieldOrigin struct {
	// Path locates the field in the object: spec.hard.cpu, rules[0].verbs[1].
	Path string `json:"path"`
	// Value is the rendered value: a string, json.Number, bool or nil, or an empty map or list.
	Value any `json:"value"`
	// Source is the entry field that set the value; nil when the renderer set it (a default,
	// a derived name) or a patch did.
	Source *Source `json:"source,omitempty"`
	// Variables are the references the entry's value was written with.
	Variables []VariableSource `json:"variables,omitempty"`
	// Patch is the last patch that changed the field, if any.
	Patch *PatchSource `json:"patch,omitempty"`
}

// Origin is the short form of where the value came from: "cluster/prod-eu1@12", "patch
// team-label (env/prod@3)" or "default".
func (f FieldOrigin) Origin() string {
	switch {
	case f.Patch != nil:
		return "patch " + f.Patch.Name + " (" + f.Patch.Source.LayerVersion() + ")"
	case f.Source != nil:
		return f.Source.LayerVersion()
	default:
		return "default"
	}
}

// NewProvenance merges and resolves the layers of a cluster (lowest first, as Resolve takes
// them) and keeps what attribution needs. It fails as Resolve does.
func NewProvenance(layers []config.Layer, cluster string) (*Provenance, error) {
	m, err := merge.Merge(layers)
	if err != nil {
		return nil, err
	}
	model, err := validate.ResolveMerged(m, cluster)
	if err != nil {
		return nil, err
	}
	p := &Provenance{
		merged:  m,
		model:   model,
		cluster: cluster,
		vars:    merge.NewVariables(model.Cluster, model.Settings.Vars),
		bodies:  map[*config.Entry]map[string]any{},
	}
	for i := range m.Entries {
		if m.Entries[i].Kind == config.KindSettings {
			p.settings = &m.Entries[i]
		}
	}
	return p, nil
}

// Model returns the resolved model, to be rendered.
func (p *Provenance) Model() *config.Model { return p.model }

// Explain attributes every leaf field of one rendered object. stages are the object as
// rendered without patches, then after each of the model's patches in turn; the last stage
// is the object as rendered (a model without patches has one stage). Objects are as decoded
// from JSON with json.Decoder.UseNumber.
func (p *Provenance) Explain(stages []map[string]any) []FieldOrigin {
	if len(stages) == 0 {
		return nil
	}
	final := stages[len(stages)-1]
	var out []FieldOrigin
	var objLeaves []leaf
	collectLeaves(final, nil, &objLeaves, false)
	var base *objectSource
	for _, lf := range objLeaves {
		fo := FieldOrigin{Path: lf.path.String(), Value: lf.value}
		if i := p.patchedAt(stages, lf); i >= 0 {
			pt := p.model.Patches[i]
			fo.Patch = &PatchSource{Name: pt.Name, Source: p.patchSource(pt, lf.path)}
		} else {
			if base == nil {
				base = p.objectSource(stages[0])
			}
			fo.Source, fo.Variables = p.attribute(base, lf)
		}
		out = append(out, fo)
	}
	return out
}

// patchedAt returns the index of the last patch that changed the leaf, or -1.
func (p *Provenance) patchedAt(stages []map[string]any, lf leaf) int {
	for i := len(stages) - 1; i >= 1 && i-1 < len(p.model.Patches); i-- {
		prev, ok := valueAt(stages[i-1], lf.path)
		if !ok || repr(prev) != lf.repr {
			return i - 1
		}
	}
	return -1
}

func (p *Provenance) patchSource(pt config.Patch, path config.Path) Source {
	field := config.Path{}.Child("json6902")
	if pt.StrategicMerge != nil {
		field = append(config.Path{}.Child("strategicMerge"), path...)
		if _, ok := valueAt(p.entryByID(config.KindPatch, pt.Name), field); !ok {
			field = config.Path{}.Child("strategicMerge")
		}
	}
	return p.source(config.KindPatch, pt.Name, field)
}

func (p *Provenance) entryByID(kind, key string) map[string]any {
	if e := p.entry(kind, key); e != nil {
		return e.Body
	}
	return nil
}

// entry returns the merged entry of a kind and key, nil when none survived the merge.
func (p *Provenance) entry(kind, key string) *config.Entry {
	for i := range p.merged.Entries {
		if e := &p.merged.Entries[i]; e.Kind == kind && e.Key == key {
			return e
		}
	}
	return nil
}

// objectSource is the entry that renders an object and the leaves of its body.
type objectSource struct {
	entry *config.Entry
	// base is the claim's path in the entry (resourceQuota for a ResourceQuota).
	base config.Path
	// sub are the leaves under base, whole the leaves of the whole body (paths from the root).
	sub, whole []leaf
}

func (p *Provenance) objectSource(obj map[string]any) *objectSource {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	o, ok := p.model.Origin(apiVersion, kind, ns, name)
	if !ok {
		return &objectSource{}
	}
	entry := p.entry(o.Kind, o.Key)
	if entry == nil {
		return &objectSource{}
	}
	body := p.body(entry)
	src := &objectSource{entry: entry, base: o.Path}
	collectLeaves(body, nil, &src.whole, true)
	for _, lf := range src.whole {
		if hasPrefix(lf.path, o.Path) {
			src.sub = append(src.sub, lf)
		}
	}
	return src
}

// body returns an entry's merged body with variables substituted, as Resolve renders it.
func (p *Provenance) body(e *config.Entry) map[string]any {
	if b, ok := p.bodies[e]; ok {
		return b
	}
	b := e.Body
	if merge.ContainsRef(b) {
		sub, _ := p.vars.Substitute(b, nil, nil, func(config.Path, error) {})
		b = sub.(map[string]any)
	}
	p.bodies[e] = b
	return b
}

// attribute finds the entry field a leaf of the object came from.
func (p *Provenance) attribute(src *objectSource, lf leaf) (*Source, []VariableSource) {
	meta := len(lf.fields) == 3 && lf.fields[0] == "metadata" && (lf.fields[1] == "labels" || lf.fields[1] == "annotations")
	identity := len(lf.path) == 2 && lf.fields[0] == "metadata" && (lf.fields[1] == "name" || lf.fields[1] == "namespace")
	typeMeta := len(lf.path) == 1 && (lf.fields[0] == "apiVersion" || lf.fields[0] == "kind")
	if src.entry != nil {
		minFields := 1
		if meta {
			minFields = 2 // labels.<key> at least: a label is not any field that happens to share its key
		}
		if bl, ok := bestMatch(lf, src.sub, minFields, !meta && !typeMeta); ok {
			return p.entrySource(src.entry, bl.path)
		}
		if identity {
			if path, ok := p.identityField(src, lf); ok {
				return p.entrySource(src.entry, path)
			}
		}
	}
	if meta && p.settings != nil {
		field := config.Path{}.Child("common" + strings.ToUpper(lf.fields[1][:1]) + lf.fields[1][1:]).Child(lf.fields[2])
		if v, ok := valueAt(p.settings.Body, field); ok && repr(v) == lf.repr {
			s := p.source(config.KindSettings, config.SettingsKey, field)
			return &s, nil
		}
	}
	return nil, nil
}

// identityField finds the entry field a rendered metadata.name or metadata.namespace came
// from: the name or namespace of the claimed part of the entry, else of the entry itself.
func (p *Provenance) identityField(src *objectSource, lf leaf) (config.Path, bool) {
	field := lf.fields[1]
	candidates := []config.Path{src.base.Child(field), config.Path{}.Child(field)}
	if nf := config.NameField(src.entry.Kind); nf != "" && field == "name" {
		candidates = append(candidates, config.Path{}.Child(nf))
	}
	body := p.body(src.entry)
	for _, c := range candidates {
		if v, ok := valueAt(body, c); ok && repr(v) == lf.repr {
			return c, true
		}
	}
	return nil, false
}

func (p *Provenance) entrySource(e *config.Entry, path config.Path) (*Source, []VariableSource) {
	s := p.source(e.Kind, e.Key, path)
	var vars []VariableSource
	if raw, ok := valueAt(e.Body, path); ok {
		if str, ok := raw.(string); ok {
			for _, name := range variableRefs(str) {
				if vs, ok := p.variableSource(name); ok {
					vars = append(vars, VariableSource{Name: name, Source: vs})
				}
			}
		}
	}
	return &s, vars
}

// variableSource says where a variable's value was set: the cluster record, or the settings'
// vars for a free variable the cluster record does not set.
func (p *Provenance) variableSource(name string) (Source, bool) {
	rec := config.Path{}
	switch {
	case name == "cluster.name":
		rec = rec.Child("name")
	case name == "cluster.region":
		rec = rec.Child("region")
	case name == "cluster.environment" || name == "env":
		rec = rec.Child("environment")
	case strings.HasPrefix(name, "vars."):
		rec = rec.Child("vars").Child(strings.TrimPrefix(name, "vars."))
		if _, set := p.model.Cluster.Vars[strings.TrimPrefix(name, "vars.")]; !set {
			if p.settings == nil {
				return Source{}, false
			}
			return p.source(config.KindSettings, config.SettingsKey, rec), true
		}
	default:
		return Source{}, false
	}
	return p.source(config.KindCluster, p.cluster, rec), true
}

// source names the layer that set the field at path of an entry. The name fields of an
// entry or of a keyed list element are the identity every layer repeats: they are
// attributed to the layer that introduced the entry or element (the lowest of the layers
// above the last deletion that give it that value), all other fields to the highest layer
// that sets them.
func (p *Provenance) source(kind, key string, path config.Path) Source {
	li := p.merged.OriginIndex(kind, key, path)
	if isIdentityPath(kind, path) {
		li = p.introducedIndex(kind, key, path, li)
	}
	s := Source{Entry: config.EntryPath(kind, key), Field: path.String()}
	if li >= 0 {
		s.Layer, s.Version = p.merged.Layers[li].Ref, p.merged.Layers[li].Version
	}
	return s
}

func isIdentityPath(kind string, path config.Path) bool {
	if len(path) == 0 {
		return false
	}
	last := path[len(path)-1].Field
	if last != "name" && last != "namespace" {
		return false
	}
	switch {
	case len(path) == 1:
		return true
	case kind == config.KindManifest && len(path) == 2 && path[0].Field == "metadata":
		return true
	default:
		return path[len(path)-2].Key != ""
	}
}

func (p *Provenance) introducedIndex(kind, key string, path config.Path, highest int) int {
	want, ok := valueAt(p.entryInLayer(highest, kind, key), path)
	if !ok {
		return highest
	}
	found := highest
	for _, li := range p.merged.Holding(kind + "/" + key) { // highest first
		if li > highest {
			continue
		}
		body := p.entryInLayer(li, kind, key)
		if merge.IsDelete(body) {
			break
		}
		v, ok := valueAt(body, path)
		if !ok || repr(v) != repr(want) {
			break
		}
		found = li
	}
	return found
}

func (p *Provenance) entryInLayer(li int, kind, key string) map[string]any {
	if li < 0 {
		return nil
	}
	for _, e := range p.merged.Layers[li].Entries {
		if e.Kind == kind && e.Key == key {
			return e.Body
		}
	}
	return nil
}

// variableRefs returns the names of the ${...} references in s ($${ is a literal).
func variableRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		if i > 0 && s[i-1] == '$' {
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return out
		}
		out = append(out, s[i+2:i+end])
		s = s[i+end+1:]
	}
}

// leaf is a scalar (or empty map or list) inside an object or entry body.
type leaf struct {
	path   config.Path
	fields []string // the field names along path
	pos    []int    // the list positions along path
	value  any
	repr   string
}

// collectLeaves appends the leaves of v. Entry bodies (keyed) address elements of keyed
// lists by name, as merge and Origin do; rendered objects address every element by index.
func collectLeaves(v any, p config.Path, out *[]leaf, keyed bool) {
	walkLeaves(v, p, nil, nil, out, keyed)
}

func walkLeaves(v any, p config.Path, fields []string, pos []int, out *[]leaf, keyed bool) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) > 0 {
			for _, k := range slices.Sorted(maps.Keys(t)) {
				if k != config.DirectiveKey {
					walkLeaves(t[k], p.Child(k), append(fields[:len(fields):len(fields)], k), pos, out, keyed)
				}
			}
			return
		}
	case []any:
		if len(t) > 0 {
			for i, e := range t {
				ep := p.Index(i)
				if keyed {
					ep = config.ElemPath(p, e, i)
				}
				walkLeaves(e, ep, fields, append(pos[:len(pos):len(pos)], i), out, keyed)
			}
			return
		}
	}
	*out = append(*out, leaf{path: p, fields: fields, pos: pos, value: v, repr: repr(v)})
}

// bestMatch picks, among candidates with the leaf's value, the one whose path ends like the
// leaf's (most trailing field names in common, then most trailing list positions); it needs
// minFields trailing field names in common. Without any a candidate is taken only when
// valueOnly allows it and it is the only one with that value.
func bestMatch(lf leaf, candidates []leaf, minFields int, valueOnly bool) (leaf, bool) {
	var best leaf
	bestF, bestP, same := -1, -1, 0
	for _, c := range candidates {
		if c.repr != lf.repr {
			continue
		}
		same++
		f, ps := commonSuffix(lf.fields, c.fields), commonSuffixInt(lf.pos, c.pos)
		if f > bestF || (f == bestF && ps > bestP) {
			best, bestF, bestP = c, f, ps
		}
	}
	switch {
	case bestF >= minFields && bestF > 0:
		return best, true
	case bestF == 0 && valueOnly && same == 1 && !isEmptyContainer(lf.value):
		return best, true
	default:
		return leaf{}, false
	}
}

func commonSuffix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

func commonSuffixInt(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

func isEmptyContainer(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

func hasPrefix(p, prefix config.Path) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

// valueAt returns the value at path in v: fields of maps, list elements by index, elements
// of keyed lists by name.
func valueAt(v any, path config.Path) (any, bool) {
	v, n := merge.Descend(v, path)
	return v, n == len(path)
}

// repr is the comparable text of a leaf value: a number written by a layer as 16 and
// rendered as "16" compare equal.
func repr(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	case map[string]any:
		if len(t) == 0 {
			return "{}"
		}
	case []any:
		if len(t) == 0 {
			return "[]"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
