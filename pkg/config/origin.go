package config

import "strings"

// ObjectOrigin says which entry renders an object and which layers wrote that entry: what a
// policy judges an object by.
type ObjectOrigin struct {
	// Kind is the kind of the entry (KindAddon, KindManifest ...).
	Kind string
	// Entry is the entry's path in layer files ("clusterRoleBindings[open-all]").
	Entry string
	// Key is the entry's key ("open-all").
	Key string
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
	o, found := m.origins[ObjectKey{Kind: QualifiedKind(group, kind), Namespace: namespace, Name: name}]
	if !found {
		return ObjectOrigin{}, false
	}
	return ObjectOrigin{Kind: o.entry.kind, Entry: o.entry.path, Key: o.entry.key, Path: o.path, Layers: o.entry.layers}, true
}

// origin is an object's entry and the part of it that renders the object.
type origin struct {
	entry *entryOrigin
	path  Path
}

// entryOrigin is what the objects of one entry share.
type entryOrigin struct {
	kind, key, path string
	layers          []LayerRef
}

// SetOrigins keeps, for each object the resolved entries claim, its origin; layers returns
// the layers whose own entry of the given ID contributes to it, lowest first. It keeps no
// reference to the raw entries, which may be collected once the model is resolved.
func (m *Model) SetOrigins(claims map[ObjectKey]Claim, layers func(entryID string) []LayerRef) {
	m.origins = make(map[ObjectKey]origin, len(claims))
	byEntry := make(map[*Entry]*entryOrigin)
	for id, c := range claims {
		e, ok := byEntry[c.Entry]
		if !ok {
			e = &entryOrigin{kind: c.Entry.Kind, key: c.Entry.Key, path: EntryPath(c.Entry.Kind, c.Entry.Key), layers: layers(c.Entry.ID())}
			byEntry[c.Entry] = e
		}
		m.origins[id] = origin{entry: e, path: c.Path}
	}
}
