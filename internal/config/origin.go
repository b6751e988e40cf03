package config

import "strings"

// ObjectOrigin says which entry renders an object and which layers wrote that entry: what a
// policy judges an object by.
type ObjectOrigin struct {
	// Kind is the kind of the entry (KindAddon, KindManifest ...).
	Kind string
	// Entry is the entry's path in layer files ("clusterRoleBindings[open-all]"), Path the
	// part of the entry that renders the object ("roles[reader]" of a namespace entry, empty
	// for the entry itself).
	Entry, Path string
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
	return o, found
}

// setOrigins keeps, for each object the resolved entries claim, its origin. It keeps no
// reference to the raw entries, which may be collected once the model is resolved.
func (m *Model) setOrigins(r *resolver) {
	m.origins = make(map[objectID]ObjectOrigin, len(r.claims))
	layers := map[*Entry][]LayerRef{}
	for id, c := range r.claims {
		ls, ok := layers[c.entry]
		if !ok {
			ls = r.merged.holderRefs(c.entry.ID())
			layers[c.entry] = ls
		}
		m.origins[id] = ObjectOrigin{Kind: c.entry.Kind, Entry: entryPath(c.entry.Kind, c.entry.Key), Path: c.path.String(), Layers: ls}
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
