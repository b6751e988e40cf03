package config

// Claim says which entry renders an object, and the part of the entry that renders it (Path
// empty for the entry itself).
type Claim struct {
	Entry *Entry
	Path  Path
}

// ObjectKey identifies a rendered object for duplicate detection and provenance: its kind as
// QualifiedKind names it, its namespace (empty for cluster-scoped objects) and its name.
type ObjectKey struct{ Kind, Namespace, Name string }

func (id ObjectKey) String() string {
	if id.Namespace != "" {
		return id.Kind + " " + id.Namespace + "/" + id.Name
	}
	return id.Kind + " " + id.Name
}

// QualifiedKind names a kind for duplicate detection the way the generated objects claim it.
func QualifiedKind(group, kind string) string {
	switch {
	case group == "projectcalico.org" && kind == "NetworkPolicy":
		return "projectcalico.org/NetworkPolicy"
	case group == "argoproj.io" && kind == "Application":
		return "Application"
	default:
		return kind
	}
}
