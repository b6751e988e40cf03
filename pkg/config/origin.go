package config

import "strings"

// ObjectOrigin says which entry renders an object and which layers wrote that entry: what a
// policy judges an object by.
type ObjectOrigin struct {
	// Kind is the kind of the entry (KindAddon, KindManifest ...).
	Kind string
	// Entry is the entry's path in layer files ("clusterRoleBindings[open-all]").
	Entry string
	// Path is the part of the entry that renders the object ("roles[reader]" of a namespace
	// entry, empty for the entry itself).
	Path Path
	// Layers are the layers whose own entry contributes to the object, lowest first: every
	// layer holding the entry above the last one that deleted it or replaced it as a whole.
	Layers []LayerRef
}

// Origin returns the origin of an object the model renders, by its apiVersion, kind,
// namespace and name as rendered (patches do not change them); false for an object no entry
// renders.
func (m *Model) Origin(apiVersion, kind, namespace, name string) (ObjectOrigin, bool) {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = ""
	}
	o, found := m.origins[objectID{qualifiedKind(group, kind), namespace, name}]
	if !found {
		return ObjectOrigin{}, false
	}
	return ObjectOrigin{Kind: o.entry.kind, Entry: o.entry.path, Path: o.path, Layers: o.entry.layers}, true
}

// origin is an object's entry and the part of it that renders the object.
type origin struct {
	entry *entryOrigin
	path  Path
}

// entryOrigin is what the objects of one entry share.
type entryOrigin struct {
	kind, path string
	layers     []LayerRef
}

// setOrigins keeps, for each object the resolved entries claim, its origin. It keeps no
// reference to the raw entries, which may be collected once the model is resolved.
func (m *Model) setOrigins(r *resolver) {
	m.origins = make(map[objectID]origin, len(r.claims))
	byEntry := make(map[*Entry]*entryOrigin, len(r.merged.Entries))
	for id, c := range r.claims {
		e, ok := byEntry[c.entry]
		if !ok {
			e = &entryOrigin{kind: c.entry.Kind, path: entryPath(c.entry.Kind, c.entry.Key), layers: r.merged.holderRefs(c.entry.ID())}
			byEntry[c.entry] = e
		}
		m.origins[id] = origin{entry: e, path: c.path}
	}
}

// holderRefs is holders as layer references, lowest first.
func (m *Merged) holderRefs(id string) []LayerRef {
	idx := m.holders(id)
	out := make([]LayerRef, len(idx))
	for i, li := range idx {
		out[len(idx)-1-i] = m.Layers[li].Ref
	}
	return out
}
