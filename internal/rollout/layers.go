package rollout

import (
	"errors"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

// AutoRollbackOptions opt layers in to automatic rollback.
type AutoRollbackOptions struct {
	// Layers lists the layers rolled back automatically when the Applications of a cluster
	// they affect fail to sync or go Degraded within Window of a publish.
	Layers LayerPatterns
	Window time.Duration
}

// DefaultRollbackWindow is the auto-rollback window when none is given.
const DefaultRollbackWindow = 10 * time.Minute

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
			if _, err := config.ParseLayerRef(p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// Match reports whether ref is one of the patterns.
func (ps LayerPatterns) Match(ref config.LayerRef) bool {
	name := ref.String()
	for _, p := range ps {
		switch {
		case p == "*", p == name:
			return true
		case p == "env/*" && ref.Scope == config.ScopeEnv, p == "cluster/*" && ref.Scope == config.ScopeCluster:
			return true
		}
	}
	return false
}
