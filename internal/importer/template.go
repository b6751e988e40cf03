package importer

import "strings"

// Values of imported objects live in layer bodies, where "${" starts a variable reference.
// escape makes a string literal ("${" becomes "$${"); the other helpers work on escaped
// strings.

// Variable references import writes.
const (
	refName   = "${cluster.name}"
	refRegion = "${cluster.region}"
)

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

// vars are the values of one cluster that import abstracts into references.
type vars struct{ name, region string }

// isWordByte reports whether c continues a token: a cluster name inside "prod-eu1x" is not
// the name.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// template replaces, in an escaped string, each occurrence of the cluster's name or region
// that stands as a token (not inside a longer word, not right after a "$", which would read
// as an escape) with its reference. detemplate(template(s)) == s for the same cluster.
func (v vars) template(s string) string {
	if s == "" || (v.name == "" && v.region == "") {
		return s
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		matched := ""
		ref := ""
		// The longer value first, so that a region holding the name is matched as a region.
		cands := [][2]string{{v.name, refName}, {v.region, refRegion}}
		if len(v.region) > len(v.name) {
			cands[0], cands[1] = cands[1], cands[0]
		}
		if i == 0 || (!isWordByte(s[i-1]) && s[i-1] != '$') {
			for _, c := range cands {
				val := c[0]
				if val == "" || !strings.HasPrefix(s[i:], val) {
					continue
				}
				end := i + len(val)
				if end < len(s) && isWordByte(s[end]) {
					continue
				}
				matched, ref = val, c[1]
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

// detemplate substitutes the cluster's name and region references in an escaped string,
// leaving escapes ("$${") and every other text as it is: the result is escaped too.
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
		switch {
		case strings.HasPrefix(s[i:], refName):
			b.WriteString(v.name)
			s = s[i+len(refName):]
		case strings.HasPrefix(s[i:], refRegion):
			b.WriteString(v.region)
			s = s[i+len(refRegion):]
		default:
			b.WriteString("${")
			s = s[i+2:]
		}
	}
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
