package config

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// LayerPatterns match layer names: "global", "env/<name>", "cluster/<name>", the wildcards
// "env/*", "cluster/*" and "*", and name patterns such as "cluster/team-a-*" (a "*" in the
// name matches any run of characters).
type LayerPatterns []string

// ParseLayerPatterns checks a list of layer patterns (empty items are skipped).
func ParseLayerPatterns(list []string) (LayerPatterns, error) {
	var out LayerPatterns
	var errs []error
	for _, p := range list {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			continue
		case p == "*" || p == "env/*" || p == "cluster/*":
		case strings.Contains(p, "*"):
			if err := checkNamePattern(p); err != nil {
				errs = append(errs, err)
				continue
			}
		default:
			if _, err := ParseLayerRef(p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// checkNamePattern checks "env/<pattern>" or "cluster/<pattern>": lower-case letters,
// digits, "-" and "*".
func checkNamePattern(p string) error {
	scope, name, ok := strings.Cut(p, "/")
	if !ok || (scope != "env" && scope != "cluster") {
		return fmt.Errorf("layer pattern %q: must be \"*\", \"global\", \"env/<name or pattern>\" or \"cluster/<name or pattern>\"", p)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '*') {
			return fmt.Errorf("layer pattern %q: %q may hold lower-case letters, digits, \"-\" and \"*\" only", p, name)
		}
	}
	return nil
}

// Match reports whether ref is one of the patterns.
func (ps LayerPatterns) Match(ref LayerRef) bool { return ps.Specificity(ref) > 0 }

// Specificity tells how closely the patterns match ref, higher being closer: its exact name
// beats a name pattern, a name pattern with more literal characters beats one with fewer,
// and any name pattern beats the scope's wildcard ("env/*"), which beats "*". 0 is no match.
func (ps LayerPatterns) Specificity(ref LayerRef) int {
	const exact = 1 << 20
	name, best := ref.String(), 0
	for _, p := range ps {
		switch {
		case p == name:
			return exact
		case p == "env/*" && ref.Scope == ScopeEnv, p == "cluster/*" && ref.Scope == ScopeCluster:
			best = max(best, 2)
		case p == "*":
			best = max(best, 1)
		case strings.Contains(p, "*") && ref.Scope != ScopeGlobal:
			scope, pattern, _ := strings.Cut(p, "/")
			if (scope == "env") != (ref.Scope == ScopeEnv) {
				continue
			}
			if ok, _ := path.Match(pattern, ref.Name); ok {
				best = max(best, 3+len(strings.ReplaceAll(pattern, "*", "")))
			}
		}
	}
	return best
}
