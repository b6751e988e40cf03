package merge

import (
	"fmt"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// UnmatchedDeletes checks the entries of layer l that are a "$patch: delete": each must
// delete an entry that one of the lower layers (lowest first, as they stand) holds. A
// deletion that matches nothing — a misspelt name, or a kind the lower layer does not use —
// would be merged as nothing, and the entry the user meant to remove would stay. It returns a
// *ValidationError naming the layer and every such entry, or nil.
//
// Merge itself accepts such a deletion: a version already published that holds one renders
// as before. The check is for a publish, which can still refuse it.
func UnmatchedDeletes(l config.Layer, lower []config.Layer) error {
	held := map[string]bool{}
	for _, ll := range lower {
		for _, e := range ll.Entries {
			// A deletion in a middle layer of what the lowest holds does not count, and does
			// not make a higher deletion of the same entry wrong: it is kept in case the
			// middle layer stops deleting it.
			if dir, _ := directive(e.Body); dir != directiveDelete {
				held[e.ID()] = true
			}
		}
	}
	var problems []config.FieldError
	for _, e := range l.Entries {
		if dir, _ := directive(e.Body); dir != directiveDelete || held[e.ID()] {
			continue
		}
		problems = append(problems, config.FieldError{
			Layer: l.Ref.String(),
			Entry: config.EntryPath(e.Kind, e.Key),
			Msg:   fmt.Sprintf("%s: %s of an entry no lower layer has (%s): check its kind and name, or drop the deletion", config.DirectiveKey, directiveDelete, describeLower(l.Ref, lower)),
		})
	}
	if len(problems) == 0 {
		return nil
	}
	return &config.ValidationError{Problems: config.SortProblems(problems)}
}

// describeLower names the lower layers with their versions: "global@3, env/dev@2".
func describeLower(ref config.LayerRef, lower []config.Layer) string {
	if len(lower) == 0 {
		return ref.String() + " is the lowest layer"
	}
	parts := make([]string, len(lower))
	for i, l := range lower {
		switch {
		case l.Version > 0:
			parts[i] = fmt.Sprintf("%s@%d", l.Ref, l.Version)
		case len(l.Entries) > 0:
			parts[i] = l.Ref.String()
		default:
			parts[i] = l.Ref.String() + " (never published)"
		}
	}
	return strings.Join(parts, ", ")
}

// HasEntryDeletes reports whether any of entries is a "$patch: delete" of a whole entry.
func HasEntryDeletes(entries []config.Entry) bool {
	for _, e := range entries {
		if dir, _ := directive(e.Body); dir == directiveDelete {
			return true
		}
	}
	return false
}
