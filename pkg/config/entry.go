package config

import (
	"fmt"
	"sort"
	"strings"
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
	// resolve decodes an entry of the kind (its variables already substituted), checks it
	// and adds it to the model; nil for the kinds resolved first (cluster, settings).
	resolve func(c checker, body map[string]any, m *Model)
}

// resolveAs is the resolve of a kind decoded into a T, checked by check and added to the
// model's list of them.
func resolveAs[T any](check func(checker, *T, *Model), list func(*Model) *[]T) func(checker, map[string]any, *Model) {
	return func(c checker, body map[string]any, m *Model) {
		v := decodeAs[T](c.r, c.e, body)
		check(c, &v, m)
		*list(m) = append(*list(m), v)
	}
}

// kinds lists every entry kind in the order layer files and exports present them. Adding a
// kind takes a line here and the kind's own code: its Model type and list, its checker and
// its render generator. (The table is built in init: its resolve functions reach lookupKind,
// which reads the table.)
var (
	kinds     []kindSpec
	kindIndex map[string]int
)

func init() {
	kinds = []kindSpec{
		{kind: KindCluster, section: "cluster", single: true, nameField: "name"},
		{kind: KindSettings, section: "settings", single: true},
		{kind: KindNamespace, section: "namespaces", nameField: "namespace",
			resolve: resolveAs(func(c checker, v *Namespace, m *Model) { c.namespace(v, m.Cluster.Environment) },
				func(m *Model) *[]Namespace { return &m.Namespaces })},
		{kind: KindRole, section: "roles", nameField: "name", namespaced: true,
			resolve: resolveAs(func(c checker, v *Role, _ *Model) { c.role(v, nil) },
				func(m *Model) *[]Role { return &m.Roles })},
		{kind: KindRoleBinding, section: "roleBindings", nameField: "name", namespaced: true,
			resolve: resolveAs(func(c checker, v *RoleBinding, _ *Model) { c.roleBinding(v, nil) },
				func(m *Model) *[]RoleBinding { return &m.RoleBindings })},
		{kind: KindClusterRole, section: "clusterRoles", nameField: "name",
			resolve: resolveAs(func(c checker, v *ClusterRole, _ *Model) { c.clusterRole(v) },
				func(m *Model) *[]ClusterRole { return &m.ClusterRoles })},
		{kind: KindClusterRoleBinding, section: "clusterRoleBindings", nameField: "name",
			resolve: resolveAs(func(c checker, v *ClusterRoleBinding, _ *Model) { c.clusterRoleBinding(v) },
				func(m *Model) *[]ClusterRoleBinding { return &m.ClusterRoleBindings })},
		{kind: KindNetworkPolicy, section: "networkPolicies", nameField: "name", namespaced: true,
			resolve: resolveAs(func(c checker, v *NetworkPolicy, _ *Model) { c.networkPolicy(v, nil) },
				func(m *Model) *[]NetworkPolicy { return &m.NetworkPolicies })},
		{kind: KindCalicoIPPool, section: "calico.ipPools", nameField: "name",
			resolve: resolveAs(func(c checker, v *IPPool, _ *Model) { c.ipPool(v) },
				func(m *Model) *[]IPPool { return &m.IPPools })},
		{kind: KindCalicoNetworkPolicy, section: "calico.networkPolicies", nameField: "name", namespaced: true,
			resolve: resolveAs(func(c checker, v *CalicoNetworkPolicy, _ *Model) { c.calicoNetworkPolicy(v) },
				func(m *Model) *[]CalicoNetworkPolicy { return &m.CalicoNetworkPolicies })},
		{kind: KindCalicoGlobalNetworkPolicy, section: "calico.globalNetworkPolicies", nameField: "name",
			resolve: resolveAs(func(c checker, v *CalicoGlobalNetworkPolicy, _ *Model) { c.calicoGlobalNetworkPolicy(v) },
				func(m *Model) *[]CalicoGlobalNetworkPolicy { return &m.CalicoGlobalNetworkPolicies })},
		{kind: KindCalicoBGPConfiguration, section: "calico.bgpConfigurations", nameField: "name",
			resolve: resolveAs(func(c checker, v *BGPConfiguration, _ *Model) { c.bgpConfiguration(v) },
				func(m *Model) *[]BGPConfiguration { return &m.BGPConfigurations })},
		{kind: KindAddon, section: "addons", nameField: "name", resolve: resolveAddon},
		{kind: KindManifest, section: "manifests", resolve: func(c checker, body map[string]any, m *Model) {
			c.manifest(body)
			m.Manifests = append(m.Manifests, body)
		}},
		{kind: KindPatch, section: "patches", nameField: "name",
			resolve: resolveAs(func(c checker, v *Patch, _ *Model) {
				c.patch(v)
				v.TargetLayer = c.r.merged.Origin(c.e.Kind, c.e.Key, Path{}.Child("target"))
				v.OpsLayer = c.r.merged.Origin(c.e.Kind, c.e.Key, Path{}.Child(v.OpsField()))
				v.Layers = c.r.merged.holderRefs(c.e.ID())
			}, func(m *Model) *[]Patch { return &m.Patches })},
	}
	kindIndex = make(map[string]int, len(kinds))
	for i, k := range kinds {
		kindIndex[k.kind] = i
	}
}

// resolveAddon adds an add-on to the model only when it is enabled (a disabled one in a
// lower layer switches the add-on off).
func resolveAddon(c checker, body map[string]any, m *Model) {
	v := decodeAs[Addon](c.r, c.e, body)
	c.addon(&v, m)
	if v.IsEnabled() {
		m.Addons = append(m.Addons, v)
	}
}

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

// entryPath is how validation messages name an entry: "namespaces[dev-team]", "settings".
func entryPath(kind, key string) string {
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
		return "", fmt.Errorf("%q must be a string, not %s", field, describe(v))
	}
	return s, nil
}

// describe names the type of a raw value for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64, int:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// scanBody reports whether a body holds variable references ("${") and merge directives
// ("$patch" keys).
func scanBody(v any) (refs, directives bool) {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "${"), false
	case map[string]any:
		for k, e := range t {
			if k == directiveKey {
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

// EntryPath is how messages name an entry: its section in layer files and its key, e.g.
// namespaces[dev-team] or roles[dev-team/dev-role].
func EntryPath(kind, key string) string { return entryPath(kind, key) }
