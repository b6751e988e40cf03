package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
)

// Variables are the values ${...} references resolve to: cluster.name, cluster.region,
// cluster.environment, env, and vars.<name> for the free variables.
type Variables map[string]string

// NewVariables builds the variables of a cluster. Free variables come from the merged
// settings (global and env defaults) and the cluster record, which wins.
func NewVariables(c Cluster, defaults map[string]string) Variables {
	v := Variables{
		"cluster.name":        c.Name,
		"cluster.region":      c.Region,
		"cluster.environment": c.Environment,
		"env":                 c.Environment,
	}
	for k, val := range defaults {
		v["vars."+k] = val
	}
	for k, val := range c.Vars {
		v["vars."+k] = val
	}
	return v
}

// Names returns the variable names, sorted.
func (v Variables) Names() []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unusableVariableError is a reference to a variable whose value is itself invalid (the
// environment of a cluster record that is not a valid name): that problem is reported where
// the value is set, not again in every field that uses it.
type unusableVariableError struct{ name string }

func (e *unusableVariableError) Error() string {
	return fmt.Sprintf("${%s} has an invalid value", e.name)
}

// expand substitutes ${name} references in s; "$${" is a literal "${". It returns an error
// naming the first unknown or unterminated reference, or a variable whose value holds a
// reference itself (values are not expanded again). A reference to a variable in unusable is
// an *unusableVariableError.
func (v Variables) expand(s string, unusable map[string]bool) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated variable reference %q (write $${ for a literal ${)", truncate(s[i:], 40))
		}
		name := s[i+2 : i+end]
		if unusable[name] {
			return "", &unusableVariableError{name: name}
		}
		val, ok := v[name]
		if !ok {
			return "", fmt.Errorf("unknown variable ${%s} (known: %s)", truncate(name, 60), strings.Join(v.knownForMessage(), ", "))
		}
		if ref := firstRef(val); ref != "" {
			return "", fmt.Errorf("${%s} holds a reference itself (%s), which is not expanded: variables do not nest; write the reference in the field itself", truncate(name, 60), ref)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}

// firstRef returns the first ${...} reference in s, shortened for a message, or "" when s
// holds none ("$${" is a literal, not a reference).
func firstRef(s string) string {
	for off := 0; ; {
		i := strings.Index(s[off:], "${")
		if i < 0 {
			return ""
		}
		i += off
		if i > 0 && s[i-1] == '$' {
			off = i + 2
			continue
		}
		ref := s[i:]
		if end := strings.IndexByte(ref, '}'); end >= 0 {
			ref = ref[:end+1]
		}
		return truncate(ref, 60)
	}
}

func (v Variables) knownForMessage() []string {
	names := v.Names()
	for i, n := range names {
		names[i] = "${" + n + "}"
	}
	return names
}

// substitute expands references in every string of a raw value, copying only what changes
// (the input may be shared with the layers it was merged from). Problems are reported through
// fail with the path of the string, which is then left as it was; unusable names variables
// whose references fail with an *unusableVariableError.
func (v Variables) substitute(val any, p Path, unusable map[string]bool, fail func(Path, error)) (any, bool) {
	switch t := val.(type) {
	case string:
		out, err := v.expand(t, unusable)
		if err != nil {
			fail(p, err)
			return t, false
		}
		return out, out != t
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			n, changed := v.substitute(e, p.Child(k), unusable, fail)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(t))
				for k2, e2 := range t {
					out[k2] = e2
				}
			}
			out[k] = n
		}
		if out == nil {
			return t, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			n, changed := v.substitute(e, elemPath(p, e, i), unusable, fail)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), t...)
			}
			out[i] = n
		}
		if out == nil {
			return t, false
		}
		return out, true
	default:
		return val, false
	}
}

// truncate cuts s to n characters for a message (oneline.Cut: never inside one).
func truncate(s string, n int) string { return oneline.Cut(s, n) }
