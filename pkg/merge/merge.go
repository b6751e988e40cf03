package merge

import (
	"errors"
	"fmt"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Patch directives accepted in entry bodies, borrowed from Kubernetes strategic-merge patches.
const (
	directiveDelete  = "delete"
	directiveReplace = "replace"
)

// Merged is the merge of a cluster's layers: every entry that survives, with its merged body.
type Merged struct {
	// Layers are the inputs, lowest precedence first.
	Layers []config.Layer
	// Entries are the merged entries in canonical order.
	Entries []config.Entry

	index map[string][]int // entry ID → indices of the layers that hold it, highest first
	// cut holds, for an entry a layer deletes or replaces as a whole, the index of the lowest
	// layer whose own entry still counts (see holders).
	cut map[string]int
}

// Merge merges layers given lowest precedence first (global, env/<e>, cluster/<c>), entry by
// entry:
//
//   - an entry of a higher layer with the same kind and key is deep-merged over the lower one:
//     maps merge key by key, a null value removes the key, scalars and unkeyed lists are
//     replaced, and lists whose elements all carry a "name" merge element by element (keyed by
//     name, plus kind and namespace when present);
//   - "$patch: delete" in an entry (or in a map or list element) removes what lower layers
//     defined there; "$patch: replace" replaces it instead of merging; a list element
//     {"$patch": "replace"} makes the list replace the lower one.
//
// Merge fails only on malformed directives; content is checked later by Resolve.
func Merge(layers []config.Layer) (*Merged, error) {
	m := &Merged{Layers: layers, index: map[string][]int{}}
	state := map[string]int{} // ID → index in m.Entries
	var errs []error
	for li, l := range layers {
		for _, e := range l.Entries {
			id := e.ID()
			m.index[id] = append([]int{li}, m.index[id]...)
			dir, err := directive(e.Body)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", l.Ref, config.EntryPath(e.Kind, e.Key), err))
				continue
			}
			pos, exists := state[id]
			switch dir {
			case directiveDelete:
				m.setCut(id, li+1)
			case directiveReplace:
				m.setCut(id, li)
			}
			switch {
			case dir == directiveDelete:
				if exists {
					m.Entries[pos].Body = nil
				}
			case !exists || m.Entries[pos].Body == nil:
				body := e.Body
				if e.MayHaveDirectives() {
					body, _ = strip(e.Body).(map[string]any)
				}
				if exists {
					m.Entries[pos] = m.Entries[pos].WithBody(body, e.MayHaveRefs())
				} else {
					state[id] = len(m.Entries)
					m.Entries = append(m.Entries, e.WithBody(body, e.MayHaveRefs()))
				}
			default:
				merged, _ := mergeValue(m.Entries[pos].Body, e.Body).(map[string]any)
				m.Entries[pos] = m.Entries[pos].WithBody(merged, m.Entries[pos].MayHaveRefs() || e.MayHaveRefs())
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	live := m.Entries[:0]
	for _, e := range m.Entries {
		if e.Body != nil {
			live = append(live, e)
		}
	}
	m.Entries = live
	config.SortEntries(m.Entries)
	return m, nil
}

// setCut records that the layers below index li no longer contribute to entry id.
func (m *Merged) setCut(id string, li int) {
	if m.cut == nil {
		m.cut = map[string]int{}
	}
	m.cut[id] = li
}

// holders returns the indices of the layers whose own entry id contributes to the merged
// entry, highest first: every layer holding it above the last one that deleted it or
// replaced it as a whole (that one included).
func (m *Merged) holders(id string) []int {
	idx := m.index[id]
	cut, ok := m.cut[id]
	if !ok {
		return idx
	}
	n := 0
	for n < len(idx) && idx[n] >= cut {
		n++
	}
	return idx[:n]
}

// HolderRefs returns the layers whose own entry id contributes to the merged entry, lowest
// first: every layer holding it above the last one that deleted it or replaced it as a whole.
func (m *Merged) HolderRefs(id string) []config.LayerRef {
	idx := m.holders(id)
	out := make([]config.LayerRef, len(idx))
	for i, li := range idx {
		out[len(idx)-1-i] = m.Layers[li].Ref
	}
	return out
}

// Holding returns the indices (in Layers) of the layers that hold an entry id, highest first,
// deleted or not.
func (m *Merged) Holding(id string) []int { return m.index[id] }

// IsDelete reports whether an entry body is a "$patch: delete" of the entry.
func IsDelete(body map[string]any) bool {
	d, _ := directive(body)
	return d == directiveDelete
}

func directive(body map[string]any) (string, error) {
	v, ok := body[config.DirectiveKey]
	if !ok {
		return "", nil
	}
	s, _ := v.(string)
	if s != directiveDelete && s != directiveReplace {
		return "", fmt.Errorf("%s: %v is not a directive (use delete or replace)", config.DirectiveKey, v)
	}
	return s, nil
}

// mergeValue merges higher over lower; neither is modified.
func mergeValue(lower, higher any) any {
	switch h := higher.(type) {
	case map[string]any:
		l, ok := lower.(map[string]any)
		if !ok || h[config.DirectiveKey] == directiveReplace {
			return strip(h)
		}
		out := make(map[string]any, len(l)+len(h))
		for k, v := range l {
			out[k] = v
		}
		for k, v := range h {
			if k == config.DirectiveKey {
				continue
			}
			if v == nil || isDeleteDirective(v) {
				delete(out, k)
				continue
			}
			if lv, has := out[k]; has {
				out[k] = mergeValue(lv, v)
			} else {
				out[k] = strip(v)
			}
		}
		return out
	case []any:
		l, ok := lower.([]any)
		if !ok || hasReplaceElement(h) || !keyedList(l) || !keyedList(h) {
			return strip(h)
		}
		return mergeKeyedLists(l, h)
	default:
		return higher
	}
}

func isDeleteDirective(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m[config.DirectiveKey] == directiveDelete
}

func hasReplaceElement(list []any) bool {
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m[config.DirectiveKey] == directiveReplace && len(m) == 1 {
			return true
		}
	}
	return false
}

// keyedList reports whether every element is a map with a string "name".
func keyedList(list []any) bool {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if len(m) == 1 && m[config.DirectiveKey] == directiveReplace {
			continue
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

// listKey identifies an element of a keyed list: its name, qualified by kind and namespace
// when it has them (so a User and a ServiceAccount called "ci" are different subjects).
func listKey(m map[string]any) string {
	name, _ := m["name"].(string)
	kind, _ := m["kind"].(string)
	ns, _ := m["namespace"].(string)
	return kind + "/" + ns + "/" + name
}

func mergeKeyedLists(lower, higher []any) []any {
	out := make([]any, 0, len(lower)+len(higher))
	pos := make(map[string]int, len(lower))
	for _, e := range lower {
		pos[listKey(e.(map[string]any))] = len(out)
		out = append(out, e)
	}
	for _, e := range higher {
		hm := e.(map[string]any)
		k := listKey(hm)
		i, exists := pos[k]
		switch {
		case hm[config.DirectiveKey] == directiveDelete:
			if exists {
				out[i] = nil
			}
		case exists && out[i] != nil:
			out[i] = mergeValue(out[i], hm)
		case exists:
			out[i] = strip(hm)
		default:
			pos[k] = len(out)
			out = append(out, strip(hm))
		}
	}
	live := out[:0]
	for _, e := range out {
		if e != nil {
			live = append(live, e)
		}
	}
	return live
}

// strip removes merge directives from a value that has nothing below it to merge with: maps
// and list elements marked for deletion disappear, replace markers are dropped. Values without
// directives are returned as they are (bodies are never modified in place, so sharing them is
// safe).
func strip(v any) any {
	out, _ := stripCOW(v)
	return out
}

func stripCOW(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			drop := k == config.DirectiveKey || e == nil || isDeleteDirective(e)
			n, changed := e, false
			if !drop {
				n, changed = stripCOW(e)
			}
			if !drop && !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(t))
				for k2, e2 := range t {
					out[k2] = e2
				}
			}
			if drop {
				delete(out, k)
			} else {
				out[k] = n
			}
		}
		if out == nil {
			return t, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			drop := false
			if m, ok := e.(map[string]any); ok {
				drop = m[config.DirectiveKey] == directiveDelete || (len(m) == 1 && m[config.DirectiveKey] == directiveReplace)
			}
			n, changed := e, false
			if !drop {
				n, changed = stripCOW(e)
			}
			if out == nil && (drop || changed) {
				out = append(make([]any, 0, len(t)), t[:i]...)
			}
			if out != nil && !drop {
				out = append(out, n)
			}
		}
		if out == nil {
			return t, false
		}
		return out, true
	default:
		return v, false
	}
}

// Origin returns the layer that set the value at path within an entry: of the layers holding
// the entry, the one whose own body reaches deepest along path (the highest layer on a tie).
func (m *Merged) Origin(kind, key string, path config.Path) string {
	if li := m.OriginIndex(kind, key, path); li >= 0 {
		return m.Layers[li].Ref.String()
	}
	return ""
}

// OriginIndex is Origin as an index into m.Layers (the highest layer when none holds the
// entry; -1 without layers).
func (m *Merged) OriginIndex(kind, key string, path config.Path) int {
	best, bestDepth := -1, -1
	for _, li := range m.index[kind+"/"+key] {
		l := m.Layers[li]
		for _, e := range l.Entries {
			if e.Kind != kind || e.Key != key {
				continue
			}
			if d := reach(e.Body, path); d > bestDepth {
				best, bestDepth = li, d
			}
		}
		if bestDepth == len(path) {
			break
		}
	}
	if best < 0 {
		best = len(m.Layers) - 1
	}
	return best
}

// reach returns how many elements of path resolve in v.
func reach(v any, path config.Path) int {
	_, n := Descend(v, path)
	return n
}

// Descend follows path in v as far as it resolves (fields of maps, elements of keyed lists
// by name, other elements by index) and returns where it got and how many elements it took.
func Descend(v any, path config.Path) (any, int) {
	for i, el := range path {
		switch {
		case el.Field != "":
			mm, ok := v.(map[string]any)
			if !ok {
				return v, i
			}
			next, ok := mm[el.Field]
			if !ok {
				return v, i
			}
			v = next
		case el.Key != "":
			list, ok := v.([]any)
			if !ok {
				return v, i
			}
			found := false
			for _, e := range list {
				if em, ok := e.(map[string]any); ok && em["name"] == el.Key {
					v, found = em, true
					break
				}
			}
			if !found {
				return v, i
			}
		default:
			list, ok := v.([]any)
			if !ok || el.Index >= len(list) {
				return v, i
			}
			v = list[el.Index]
		}
	}
	return v, len(path)
}

// LayerRefs returns the references of the merged layers, lowest first.
func (m *Merged) LayerRefs() []config.LayerRef {
	out := make([]config.LayerRef, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Ref
	}
	return out
}
