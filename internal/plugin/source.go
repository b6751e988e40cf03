package plugin

import (
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

// EnvName returns the spec.source.plugin.env name of a parameter (CLUSTER for cluster,
// CONFIG_VERSION for configVersion ...), "" for an unknown parameter.
func EnvName(param string) string { return envNames[param] }

// Source is an Application's plugin source as the Argo CD API shows it: the string
// parameters (spec.source.plugin.parameters) and the env entries (spec.source.plugin.env),
// each by name. It answers what generate will read from it, with ParseRequest's precedence.
type Source struct {
	Params map[string]string
	Env    map[string]string
}

// Value returns parameter name as generate reads it: the plugin parameter when given, else
// the env entry of its env name (which Argo CD passes as ARGOCD_ENV_<name>); trimmed.
func (s Source) Value(name string) string {
	if v, ok := s.Params[name]; ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(s.Env[envNames[name]])
}

// Cluster is the cluster the source renders.
func (s Source) Cluster() string { return s.Value(ParamCluster) }

// PinnedVersion is the configVersion the source pins as written, "" when it renders the
// current heads (none given, or "latest").
func (s Source) PinnedVersion() string {
	v := s.Value(ParamConfigVersion)
	if v == config.LatestVersion {
		return ""
	}
	return v
}
