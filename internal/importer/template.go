package importer

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Values of imported objects live in layer bodies, where "${" starts a variable reference.
// escape makes a string literal ("${" becomes "$${"); the other helpers work on escaped
// strings.

// escape makes s a literal in a layer body: every "${" is written "$${".
func escape(s string) string { return strings.ReplaceAll(s, "${", "$${") }

// escapeValue escapes every string value (not map keys: they are never substituted).
func escapeValue(v any) any {
	switch t := v.(type) {
	case string:
		return escape(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = escapeValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = escapeValue(e)
		}
		return out
	default:
		return v
	}
}

// vars are the values of one cluster that import abstracts into references, as the merge
// model names them (config.NewVariables): ${cluster.name}, ${cluster.region}, ${env} and
// ${vars.<name>} for the cluster record's free variables. A value shorter than two
// characters is never abstracted (it would match too much text by chance).
type vars struct {
	// refs, longest value first (so that a region holding the name is matched as the
	// region), then in the order above: the reference written for a value both name.
	refs []varRef
}

type varRef struct{ value, ref string }

// newVars returns the values of a cluster record import abstracts.
func newVars(c config.Cluster) vars {
	refs := []varRef{{c.Name, "${cluster.name}"}, {c.Region, "${cluster.region}"}, {c.Environment, "${env}"}}
	for _, k := range slices.Sorted(maps.Keys(c.Vars)) {
		refs = append(refs, varRef{c.Vars[k], "${vars." + k + "}"})
	}
	var v vars
	for _, r := range refs {
		if len(r.value) >= 2 {
			v.refs = append(v.refs, r)
		}
	}
	sort.SliceStable(v.refs, func(i, j int) bool { return len(v.refs[i].value) > len(v.refs[j].value) })
	return v
}

// isWordByte reports whether c continues a token: a cluster name inside "prod-eu1x" is not
// the name.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// template replaces, in an escaped string, each occurrence of one of the cluster's values
// that stands as a token (not inside a longer word, not right after a "$", which would read
// as an escape, not inside a reference) with its reference. detemplate(template(s)) == s for
// the same cluster.
func (v vars) template(s string) string {
	if s == "" || len(v.refs) == 0 {
		return s
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		// A reference written already (a generalised value) is kept as it is.
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' && (i == 0 || s[i-1] != '$') {
			if end := strings.IndexByte(s[i:], '}'); end > 0 {
				b.WriteString(s[i : i+end+1])
				i += end + 1
				continue
			}
		}
		matched := ""
		ref := ""
		if i == 0 || (!isWordByte(s[i-1]) && s[i-1] != '$') {
			for _, c := range v.refs {
				if !strings.HasPrefix(s[i:], c.value) {
					continue
				}
				end := i + len(c.value)
				if end < len(s) && isWordByte(s[end]) {
					continue
				}
				matched, ref = c.value, c.ref
				break
			}
		}
		if matched == "" {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(ref)
		i += len(matched)
		changed = true
	}
	if !changed {
		return s
	}
	return b.String()
}

// detemplate substitutes the cluster's references in an escaped string, leaving escapes
// ("$${"), references it does not know and every other text as they are: the result is
// escaped too.
func (v vars) detemplate(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		known := false
		for _, c := range v.refs {
			if strings.HasPrefix(s[i:], c.ref) {
				b.WriteString(c.value)
				s = s[i+len(c.ref):]
				known = true
				break
			}
		}
		if !known {
			b.WriteString("${")
			s = s[i+2:]
		}
	}
}

// common returns the values every one of vs has (same reference, same value): what the
// clusters of an environment share, such as ${env}.
func common(vs []vars) vars {
	if len(vs) == 0 {
		return vars{}
	}
	var out vars
	for _, r := range vs[0].refs {
		shared := true
		for _, v := range vs[1:] {
			if !slices.Contains(v.refs, r) {
				shared = false
				break
			}
		}
		if shared {
			out.refs = append(out.refs, r)
		}
	}
	return out
}

// hasReference reports whether an escaped string holds a variable reference ("${" not
// written "$${").
func hasReference(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' && (i == 0 || s[i-1] != '$') {
			return true
		}
	}
	return false
}

// mapStrings applies f to every string value of v (map keys are left alone), copying.
func mapStrings(v any, f func(string) string) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = mapStrings(e, f)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = mapStrings(e, f)
		}
		return out
	default:
		return v
	}
}
