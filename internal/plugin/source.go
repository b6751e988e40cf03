package plugin

import (
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
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

// Param is an entry of an Application's spec.source.plugin.parameters as the Argo CD API
// shows it: its name, and its value when it is a string (nil for an array or a map).
type Param struct {
	Name   string
	String *string
}

// EnvEntry is an entry of an Application's spec.source.plugin.env.
type EnvEntry struct {
	Name, Value string
}

// NewSource is the source of an Application's parameters and env entries, in the order the
// Application lists them, as generate will read them from the environment argocd-cmp-server
// builds: a parameter given as an array or a map is given (ParseRequest refuses it; its env
// entry does not stand in for it); of a parameter given twice, which ParseRequest refuses,
// the first; of an env entry given twice the last (the environment keeps the last
// ARGOCD_ENV_<name>).
func NewSource(params []Param, env []EnvEntry) Source {
	var s Source
	for _, p := range params {
		if s.Params == nil {
			s.Params = map[string]string{}
		}
		if _, dup := s.Params[p.Name]; dup {
			continue
		}
		s.Params[p.Name] = ""
		if p.String != nil {
			s.Params[p.Name] = *p.String
		}
	}
	for _, e := range env {
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env[e.Name] = e.Value
	}
	return s
}

// Value returns parameter name as generate reads it (lookup's precedence: the plugin
// parameter when given, else the env entry of its env name, which Argo CD passes as
// ARGOCD_ENV_<name>); trimmed.
func (s Source) Value(name string) string {
	v, _ := lookup(name, s.Params, func(envName string) string { return s.Env[envName] },
		func(_, v string) string { return v })
	return strings.TrimSpace(v)
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
