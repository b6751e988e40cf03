package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
)

// ConfigVersion pins the versions of a cluster's three layers, written "g7.e3.c12": global
// version 7, environment layer version 3, cluster layer version 12. A 0 means the layer has
// never been published (it merges as empty).
type ConfigVersion struct {
	Global, Env, Cluster int
}

// LatestVersion is the configVersion parameter value (or absence) meaning "current heads".
const LatestVersion = "latest"

// String formats the version as g<N>.e<N>.c<N>.
func (v ConfigVersion) String() string {
	return fmt.Sprintf("g%d.e%d.c%d", v.Global, v.Env, v.Cluster)
}

// ParseConfigVersion parses "g7.e3.c12".
func ParseConfigVersion(s string) (ConfigVersion, error) {
	parts := strings.Split(s, ".")
	var v ConfigVersion
	targets := []struct {
		prefix byte
		dst    *int
	}{{'g', &v.Global}, {'e', &v.Env}, {'c', &v.Cluster}}
	if len(parts) != len(targets) {
		return v, fmt.Errorf("configVersion %s: expected g<N>.e<N>.c<N>, e.g. g7.e3.c12, or %q", msgfmt.QuoteShort(s), LatestVersion)
	}
	for i, t := range targets {
		p := parts[i]
		if len(p) < 2 || p[0] != t.prefix {
			return v, fmt.Errorf("configVersion %s: part %d must be %c<N>", msgfmt.QuoteShort(s), i+1, t.prefix)
		}
		n, err := strconv.Atoi(p[1:])
		if err != nil || n < 0 || n > 9_999_999_999 || (len(p) > 2 && p[1] == '0') {
			return v, fmt.Errorf("configVersion %s: %s is not a version number", msgfmt.QuoteShort(s), msgfmt.QuoteShort(p[1:]))
		}
		*t.dst = n
	}
	return v, nil
}

// Of returns the version pinned for the layer of ref's scope.
func (v ConfigVersion) Of(ref LayerRef) int {
	switch ref.Scope {
	case ScopeGlobal:
		return v.Global
	case ScopeEnv:
		return v.Env
	default:
		return v.Cluster
	}
}
