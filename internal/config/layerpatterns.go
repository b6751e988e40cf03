package config

import (
	"errors"
	"strings"
)

// LayerPatterns match layer names: "global", "env/<name>", "cluster/<name>", and the
// wildcards "env/*", "cluster/*" and "*".
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

// Match reports whether ref is one of the patterns.
func (ps LayerPatterns) Match(ref LayerRef) bool { return ps.Specificity(ref) > 0 }

// Specificity tells how closely the patterns match ref: 3 for its exact name, 2 for its
// scope's wildcard, 1 for "*", 0 for no match.
func (ps LayerPatterns) Specificity(ref LayerRef) int {
	name, best := ref.String(), 0
	for _, p := range ps {
		switch {
		case p == name:
			return 3
		case p == "env/*" && ref.Scope == ScopeEnv, p == "cluster/*" && ref.Scope == ScopeCluster:
			best = max(best, 2)
		case p == "*":
			best = max(best, 1)
		}
	}
	return best
}
