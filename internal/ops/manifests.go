package ops

import (
	"sort"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

// ManifestChanges compares two rendered YAML streams object by object (identified by API
// group, kind, namespace and name) and returns the objects added, changed and removed.
func ManifestChanges(before, after []byte) ([]Change, error) {
	a, err := objectsByID(before)
	if err != nil {
		return nil, err
	}
	b, err := objectsByID(after)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for id := range a {
		ids[id] = true
	}
	for id := range b {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []Change
	for _, id := range sorted {
		oa, inA := a[id]
		ob, inB := b[id]
		switch {
		case !inA:
			out = append(out, Change{Kind: "object", Key: id, Op: "added", After: ob})
		case !inB:
			out = append(out, Change{Kind: "object", Key: id, Op: "removed", Before: oa})
		case oa != ob:
			out = append(out, Change{Kind: "object", Key: id, Op: "changed", Before: oa, After: ob})
		}
	}
	return out, nil
}

func objectsByID(stream []byte) (map[string]string, error) {
	nodes, err := kio.FromBytes(stream)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(nodes))
	for _, n := range nodes {
		id := n.GetApiVersion() + "/" + n.GetKind() + "/"
		if ns := n.GetNamespace(); ns != "" {
			id += ns + "/"
		}
		id += n.GetName()
		s, err := n.String()
		if err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, nil
}
