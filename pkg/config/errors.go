package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
)

// PathElem is one step of a path inside an entry: a map field, the element of a keyed list
// with the given name, or a list index.
type PathElem struct {
	Field string
	Key   string
	Index int
	// Empty marks a field or key that is the empty string (a map key ""), which Field and
	// Key alone cannot tell from an index; it shows as [""].
	Empty bool
}

// Path locates a value inside an entry body, e.g. resourceQuota.hard.cpu.
type Path []PathElem

// Child returns the path extended by a field. The result never shares memory with p.
func (p Path) Child(field string) Path { return p.with(fieldElem(field)) }

// fieldElem is the path element of a map key or struct field.
func fieldElem(field string) PathElem {
	if field == "" {
		return PathElem{Empty: true}
	}
	return PathElem{Field: field}
}

// LazyChild returns the path extended by field, or p itself when field is empty. Validation
// helpers take (parent, field) and call it only when they report a problem, so that checking
// a valid configuration builds no paths.
func (p Path) LazyChild(field string) Path {
	if field == "" {
		return p
	}
	return p.Child(field)
}

// Keyed returns the path extended by the element of a keyed list.
func (p Path) Keyed(name string) Path {
	if name == "" {
		return p.with(PathElem{Empty: true})
	}
	return p.with(PathElem{Key: name})
}

// Index returns the path extended by a list index.
func (p Path) Index(i int) Path { return p.with(PathElem{Index: i}) }

func (p Path) with(e PathElem) Path {
	out := make(Path, len(p)+1)
	copy(out, p)
	out[len(p)] = e
	return out
}

// String renders the path as messages show it: roles[dev-role].rules[0].verbs[1].
func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch {
		case e.Empty:
			b.WriteString(`[""]`)
		case e.Field != "" && len(e.Field) <= maxNameInMessage && plainField(e.Field):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.Field)
		case e.Field != "":
			b.WriteString("[" + strconv.Quote(msgfmt.Truncate(e.Field, maxNameInMessage)) + "]")
		case e.Key != "":
			b.WriteString("[" + keyInMessage(e.Key) + "]")
		default:
			b.WriteString("[" + strconv.Itoa(e.Index) + "]")
		}
	}
	return b.String()
}

// maxNameInMessage bounds how much of a name or key a message repeats.
const maxNameInMessage = 80

// keyInMessage shows an entry or list key in a path: as it is when it is made of the
// characters names are made of ("dev-team", "ns/role"), quoted and shortened otherwise, so
// that a hostile name can neither break a message into lines nor flood it.
func keyInMessage(k string) string {
	if len(k) <= maxNameInMessage && plainKey(k) {
		return k
	}
	return strconv.Quote(msgfmt.Truncate(k, maxNameInMessage))
}

func plainKey(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == '/' || r == ':' || r == '@' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func plainField(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// FieldError is one problem of a merged configuration: the layer that set the offending
// value, the entry and path, and what is wrong.
type FieldError struct {
	// Layer is the layer that set the value ("cluster/dev-k3s"); empty when unknown.
	Layer string
	// Entry is the entry's path in layer files, e.g. namespaces[dev-team].
	Entry string
	// Path is the location inside the entry, e.g. resourceQuota.hard.cpu.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e FieldError) Error() string {
	loc := e.Entry
	if e.Path != "" {
		if strings.HasPrefix(e.Path, "[") {
			loc += e.Path
		} else {
			loc += "." + e.Path
		}
	}
	if e.Layer == "" {
		return loc + ": " + e.Msg
	}
	return e.Layer + ": " + loc + ": " + e.Msg
}

// ValidationError holds every problem found in a configuration.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// SortProblems orders problems by layer, entry and path and drops exact duplicates.
func SortProblems(ps []FieldError) []FieldError {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}
