package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
)

// Entry is one keyed piece of a layer: a namespace, a role binding, an IP pool ... Its Body is
// plain data (maps with string keys, slices, strings, bools, int64, float64 and nil) exactly as
// a person writes it in a layer file or edits it in the DynamoDB console.
type Entry struct {
	// Kind is the entry kind, e.g. "namespace" or "calicoIPPool" (see Kinds).
	Kind string
	// Key identifies the entry within its kind: the name, "<namespace>/<name>" for namespaced
	// kinds, "<Kind>/<namespace>/<name>" for extra manifests.
	Key string
	// Body is the entry's canonical content.
	Body map[string]any

	// noRefs records that Body holds no "${" and noDirectives that it holds no "$patch" (set
	// by NewEntry; Merge keeps noRefs when every merged body had none), sparing Merge and
	// Resolve walks over the body. The zero values mean "unknown", so entries built by hand
	// are always searched.
	noRefs, noDirectives bool
}

// ID returns "<kind>/<key>", unique within a layer.
func (e Entry) ID() string { return e.Kind + "/" + e.Key }

// Entry kinds. The values appear in DynamoDB sort keys and in exported files.
const (
	KindCluster                   = "cluster"
	KindSettings                  = "settings"
	KindNamespace                 = "namespace"
	KindRole                      = "role"
	KindRoleBinding               = "roleBinding"
	KindClusterRole               = "clusterRole"
	KindClusterRoleBinding        = "clusterRoleBinding"
	KindNetworkPolicy             = "networkPolicy"
	KindCalicoIPPool              = "calicoIPPool"
	KindCalicoNetworkPolicy       = "calicoNetworkPolicy"
	KindCalicoGlobalNetworkPolicy = "calicoGlobalNetworkPolicy"
	KindCalicoBGPConfiguration    = "calicoBGPConfiguration"
	KindAddon                     = "addon"
	KindManifest                  = "manifest"
	KindPatch                     = "patch"
)

// SettingsKey is the key of the single settings entry of a layer.
const SettingsKey = "settings"

// kindSpec describes how an entry kind appears in layer files and how it is keyed.
type kindSpec struct {
	kind string
	// section is where the kind lives in a layer file: "namespaces", "calico.ipPools".
	section string
	// single kinds are one object per layer (cluster, settings), not a list.
	single bool
	// nameField holds the entry's name ("namespace" for namespace entries).
	nameField string
	// namespaced kinds are keyed "<namespace>/<name>".
	namespaced bool
}

// kinds lists every entry kind in the order layer files and exports present them. Adding a
// kind takes a line here and the kind's own code: its Model type and list, its resolver and
// checker (package validate) and its render generator (package render).
var (
	kinds     []kindSpec
	kindIndex map[string]int
)

func init() {
	kinds = []kindSpec{
		{kind: KindCluster, section: "cluster", single: true, nameField: "name"},
		{kind: KindSettings, section: "settings", single: true},
		{kind: KindNamespace, section: "namespaces", nameField: "namespace"},
		{kind: KindRole, section: "roles", nameField: "name", namespaced: true},
		{kind: KindRoleBinding, section: "roleBindings", nameField: "name", namespaced: true},
		{kind: KindClusterRole, section: "clusterRoles", nameField: "name"},
		{kind: KindClusterRoleBinding, section: "clusterRoleBindings", nameField: "name"},
		{kind: KindNetworkPolicy, section: "networkPolicies", nameField: "name", namespaced: true},
		{kind: KindCalicoIPPool, section: "calico.ipPools", nameField: "name"},
		{kind: KindCalicoNetworkPolicy, section: "calico.networkPolicies", nameField: "name", namespaced: true},
		{kind: KindCalicoGlobalNetworkPolicy, section: "calico.globalNetworkPolicies", nameField: "name"},
		{kind: KindCalicoBGPConfiguration, section: "calico.bgpConfigurations", nameField: "name"},
		{kind: KindAddon, section: "addons", nameField: "name"},
		{kind: KindManifest, section: "manifests"},
		{kind: KindPatch, section: "patches", nameField: "name"},
	}
	kindIndex = make(map[string]int, len(kinds))
	for i, k := range kinds {
		kindIndex[k.kind] = i
	}
}

// NameField returns the field of an entry body of the kind that holds the entry's name
// ("namespace" for namespace entries), "" for kinds without one.
func NameField(kind string) string {
	spec, _ := lookupKind(kind)
	return spec.nameField
}

// MayHaveRefs reports whether the entry's Body may hold variable references ("${"): false
// only when it is known to hold none (NewEntry and Merge record it).
func (e Entry) MayHaveRefs() bool { return !e.noRefs }

// MayHaveDirectives reports whether the entry's Body may hold merge directives ("$patch"):
// false only when NewEntry found none.
func (e Entry) MayHaveDirectives() bool { return !e.noDirectives }

// WithBody returns the entry with body as its Body. mayHaveRefs false records that body holds
// no variable references, sparing a walk over it; whether it holds directives is unknown.
func (e Entry) WithBody(body map[string]any, mayHaveRefs bool) Entry {
	return Entry{Kind: e.Kind, Key: e.Key, Body: body, noRefs: !mayHaveRefs}
}

// KindSection says where entries of a kind live in a layer file.
type KindSection struct {
	// Kind is the entry kind (KindNamespace ...).
	Kind string
	// Section is the kind's place in a layer file: "namespaces", "calico.ipPools".
	Section string
	// Single kinds are one map per layer (cluster, settings), not a list.
	Single bool
}

// Sections returns where each entry kind lives in a layer file, in canonical order.
func Sections() []KindSection {
	out := make([]KindSection, len(kinds))
	for i, k := range kinds {
		out[i] = KindSection{Kind: k.kind, Section: k.section, Single: k.single}
	}
	return out
}

// DirectiveKey is the key of the merge directives entry bodies may hold ("$patch: delete",
// "$patch: replace"), borrowed from Kubernetes strategic-merge patches.
const DirectiveKey = "$patch"

func lookupKind(kind string) (kindSpec, bool) {
	i, ok := kindIndex[kind]
	if !ok {
		return kindSpec{}, false
	}
	return kinds[i], true
}

// Kinds returns the entry kinds in their canonical order.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

// IsKind reports whether kind is a known entry kind.
func IsKind(kind string) bool { _, ok := kindIndex[kind]; return ok }

// kindOrder returns the position of kind in the canonical order (unknown kinds last).
func kindOrder(kind string) int {
	if i, ok := kindIndex[kind]; ok {
		return i
	}
	return len(kinds)
}

// SortEntries orders entries by kind (canonical order), then key.
func SortEntries(entries []Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		oi, oj := kindOrder(entries[i].Kind), kindOrder(entries[j].Kind)
		if oi != oj {
			return oi < oj
		}
		return entries[i].Key < entries[j].Key
	})
}

// EntryPath is how messages name an entry: its section in layer files and its key, e.g.
// namespaces[dev-team], roles[dev-team/dev-role] or settings.
func EntryPath(kind, key string) string {
	spec, ok := lookupKind(kind)
	if !ok {
		return kind + "[" + keyInMessage(key) + "]"
	}
	if spec.single {
		return spec.section
	}
	return spec.section + "[" + keyInMessage(key) + "]"
}

// NewEntry builds an entry of the given kind from a raw body as written in a layer file, in
// the DynamoDB console or by the seed format: it canonicalises the body (see docs/config.md)
// and derives the key. The body is not modified; the returned entry owns a copy.
func NewEntry(kind string, body map[string]any) (Entry, error) {
	spec, ok := lookupKind(kind)
	if !ok {
		return Entry{}, fmt.Errorf("unknown entry kind %q (known: %s)", kind, strings.Join(Kinds(), ", "))
	}
	b, err := canonicalize(spec, deepCopyMap(body))
	if err != nil {
		return Entry{}, err
	}
	key, err := entryKey(spec, b)
	if err != nil {
		return Entry{}, err
	}
	refs, directives := scanBody(b)
	return Entry{Kind: kind, Key: key, Body: b, noRefs: !refs, noDirectives: !directives}, nil
}

func entryKey(spec kindSpec, b map[string]any) (string, error) {
	switch {
	case spec.kind == KindSettings:
		return SettingsKey, nil
	case spec.kind == KindManifest:
		return manifestKey(b)
	}
	name, err := stringField(b, spec.nameField)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", fmt.Errorf("%s: %q is required", spec.section, spec.nameField)
	}
	if spec.namespaced {
		ns, err := stringField(b, "namespace")
		if err != nil {
			return "", err
		}
		if ns == "" {
			return "", fmt.Errorf("%s[%s]: \"namespace\" is required", spec.section, name)
		}
		return ns + "/" + name, nil
	}
	return name, nil
}

func manifestKey(b map[string]any) (string, error) {
	kind, err := stringField(b, "kind")
	if err != nil {
		return "", err
	}
	md, _ := b["metadata"].(map[string]any)
	var name, ns string
	if md != nil {
		if name, err = stringField(md, "name"); err != nil {
			return "", err
		}
		if ns, err = stringField(md, "namespace"); err != nil {
			return "", err
		}
	}
	if kind == "" || name == "" {
		return "", fmt.Errorf("manifests: every manifest needs \"apiVersion\", \"kind\" and \"metadata.name\"")
	}
	if ns == "" {
		return kind + "/" + name, nil
	}
	return kind + "/" + ns + "/" + name, nil
}

func stringField(b map[string]any, field string) (string, error) {
	v, ok := b[field]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%q must be a string, not %s", field, msgfmt.Describe(v))
	}
	return s, nil
}

// scanBody reports whether a body holds variable references ("${") and merge directives
// ("$patch" keys).
func scanBody(v any) (refs, directives bool) {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "${"), false
	case map[string]any:
		for k, e := range t {
			if k == DirectiveKey {
				directives = true
			}
			r, d := scanBody(e)
			refs, directives = refs || r, directives || d
		}
	case []any:
		for _, e := range t {
			r, d := scanBody(e)
			refs, directives = refs || r, directives || d
		}
	}
	return refs, directives
}
