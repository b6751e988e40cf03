package plugin

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Parameter names, as an Application's spec.source.plugin.parameters names them.
const (
	ParamCluster       = "cluster"
	ParamEnvironment   = "environment"
	ParamConfigVersion = "configVersion"
	ParamComponents    = "components"
)

// envNames are the ARGOCD_ENV_<name> fallbacks (spec.source.plugin.env) of each parameter.
var envNames = map[string]string{
	ParamCluster:       "CLUSTER",
	ParamEnvironment:   "ENVIRONMENT",
	ParamConfigVersion: "CONFIG_VERSION",
	ParamComponents:    "COMPONENTS",
}

// Request is what an Argo CD Application asks generate to render.
type Request struct {
	Cluster     string
	Environment string
	// Version pins the layer versions; nil renders the current heads ("latest").
	Version    *config.ConfigVersion
	Components []string
	// Project and App are ARGOCD_APP_PROJECT_NAME and ARGOCD_APP_NAME.
	Project string
	App     string
}

// VersionString is the requested configVersion as written ("latest" when not pinned).
func (r Request) VersionString() string {
	if r.Version == nil {
		return config.LatestVersion
	}
	return r.Version.String()
}

// param is one plugin parameter as Argo CD passes it in ARGOCD_APP_PARAMETERS.
type param struct {
	Name   string            `json:"name"`
	String *string           `json:"string,omitempty"`
	Array  []string          `json:"array,omitempty"`
	Map    map[string]string `json:"map,omitempty"`
}

// value is a parameter's value: a string or a list.
type value struct {
	str    string
	list   []string
	isList bool
	// bad marks a value given in a shape no parameter takes (a map): already reported, it
	// counts as given but has no value.
	bad    bool
	source string // where it came from, for messages
}

// ParseRequest reads the request from the environment argocd-cmp-server gives generate.
// Precedence, per parameter: the plugin parameters (ARGOCD_APP_PARAMETERS, or PARAM_* when
// that is absent), then spec.source.plugin.env (ARGOCD_ENV_CLUSTER, ARGOCD_ENV_ENVIRONMENT,
// ARGOCD_ENV_CONFIG_VERSION, ARGOCD_ENV_COMPONENTS). Every problem is reported at once.
func ParseRequest(env map[string]string) (Request, error) {
	values, errs := parameters(env)
	for name := range envNames {
		v, ok := lookup(name, values, func(envName string) string { return env["ARGOCD_ENV_"+envName] },
			func(envName, v string) value { return value{str: v, source: "ARGOCD_ENV_" + envName} })
		if ok {
			values[name] = v
		}
	}
	r := Request{Project: env["ARGOCD_APP_PROJECT_NAME"], App: env["ARGOCD_APP_NAME"]}
	str := func(name string) string {
		v, ok := values[name]
		if !ok || v.bad {
			return ""
		}
		if v.isList {
			errs = append(errs, fmt.Errorf("parameter %q (%s): must be a string, not a list", name, v.source))
			return ""
		}
		return strings.TrimSpace(v.str)
	}
	r.Cluster = str(ParamCluster)
	_, given := values[ParamCluster]
	switch {
	case r.Cluster == "" && given && (values[ParamCluster].isList || values[ParamCluster].bad):
		// Given in the wrong shape: that is the problem reported, not a missing cluster.
	case r.Cluster == "":
		errs = append(errs, fmt.Errorf("parameter %q is required: set it in the Application's spec.source.plugin.parameters (an ApplicationSet passes {{.name}} of its cluster generator)", ParamCluster))
	default:
		errs = append(errs, checkName(ParamCluster, r.Cluster)...)
	}
	if r.Environment = str(ParamEnvironment); r.Environment != "" {
		errs = append(errs, checkName(ParamEnvironment, r.Environment)...)
	}
	if v := str(ParamConfigVersion); v != "" && v != config.LatestVersion {
		cv, err := config.ParseConfigVersion(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("parameter %q: %w", ParamConfigVersion, err))
		} else {
			r.Version = &cv
		}
	}
	if v, ok := values[ParamComponents]; ok && !v.bad {
		list := v.list
		if !v.isList {
			list = strings.Split(v.str, ",")
		}
		for _, c := range list {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			if !isComponent(c) {
				errs = append(errs, fmt.Errorf("parameter %q: %s is not a component (%s)", ParamComponents, quote(c), strings.Join(render.Components, ", ")))
				continue
			}
			r.Components = append(r.Components, c)
		}
	}
	if len(errs) > 0 {
		return r, joinLines(errs)
	}
	return r, nil
}

// lookup is the one rule of where a parameter's value comes from, which generate
// (ParseRequest) and serve (Source) both read by: the plugin parameter when the Application
// gives it, in any shape (even one generate refuses: its env entry does not stand in for it),
// else the spec.source.plugin.env entry of its env name (ARGOCD_ENV_<name>) when not empty.
// params holds the given parameters by name; env returns an env entry by its env name; fromEnv
// makes a value of an env entry. ok is false when neither gives the parameter.
func lookup[V any](name string, params map[string]V, env func(envName string) string, fromEnv func(envName, v string) V) (v V, ok bool) {
	if v, ok := params[name]; ok {
		return v, true
	}
	envName := envNames[name]
	if e := env(envName); e != "" {
		return fromEnv(envName, e), true
	}
	return v, false
}

// parameters decodes ARGOCD_APP_PARAMETERS, or PARAM_* variables when it is absent.
func parameters(env map[string]string) (map[string]value, []error) {
	values := map[string]value{}
	var errs []error
	if raw := env["ARGOCD_APP_PARAMETERS"]; strings.TrimSpace(raw) != "" {
		var params []param
		if err := json.Unmarshal([]byte(raw), &params); err != nil {
			return values, []error{fmt.Errorf("ARGOCD_APP_PARAMETERS is not the JSON list Argo CD sends: %v", err)}
		}
		for _, p := range params {
			if p.Name == InfoPublishedVersion || p.Name == InfoPublishedLayers {
				errs = append(errs, fmt.Errorf("parameter %q only shows what is published; set %q to pin a version, and remove %q", p.Name, ParamConfigVersion, p.Name))
				continue
			}
			if _, known := envNames[p.Name]; !known {
				errs = append(errs, unknownParam(p.Name))
				continue
			}
			if _, dup := values[p.Name]; dup {
				errs = append(errs, fmt.Errorf("parameter %q is given twice", p.Name))
				continue
			}
			switch {
			case p.Map != nil:
				shape := "a string"
				if p.Name == ParamComponents {
					shape = "a string or a list"
				}
				errs = append(errs, fmt.Errorf("parameter %q: must be %s, not a map", p.Name, shape))
				values[p.Name] = value{bad: true, source: "ARGOCD_APP_PARAMETERS"}
			case p.Array != nil:
				values[p.Name] = value{list: p.Array, isList: true, source: "ARGOCD_APP_PARAMETERS"}
			case p.String != nil:
				values[p.Name] = value{str: *p.String, source: "ARGOCD_APP_PARAMETERS"}
			}
		}
		return values, errs
	}
	// PARAM_<NAME>, PARAM_<NAME>_<i> and PARAM_<NAME>_<KEY>: names upper-cased, every other
	// character than A-Z, 0-9 and _ replaced by _.
	byEnv := map[string]string{}
	for name := range envNames {
		byEnv["PARAM_"+paramEnvName(name)] = name
	}
	lists := map[string]map[int]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, "PARAM_") {
			continue
		}
		if name, ok := byEnv[k]; ok {
			values[name] = value{str: v, source: k}
			continue
		}
		if base, idx, ok := splitIndexed(k); ok {
			if name, known := byEnv[base]; known {
				if lists[name] == nil {
					lists[name] = map[int]string{}
				}
				lists[name][idx] = v
				continue
			}
		}
		errs = append(errs, unknownParam(strings.ToLower(strings.TrimPrefix(k, "PARAM_"))))
	}
	for name, items := range lists {
		idx := make([]int, 0, len(items))
		for i := range items {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		list := make([]string, len(idx))
		for i, j := range idx {
			list[i] = items[j]
		}
		values[name] = value{list: list, isList: true, source: "PARAM_" + paramEnvName(name) + "_<i>"}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return values, errs
}

var nonParamChar = regexp.MustCompile(`[^A-Z0-9_]`)

// paramEnvName is how Argo CD turns a parameter name into an environment variable name.
func paramEnvName(name string) string {
	return nonParamChar.ReplaceAllString(strings.ToUpper(name), "_")
}

func splitIndexed(k string) (string, int, bool) {
	i := strings.LastIndexByte(k, '_')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(k[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return k[:i], n, true
}

func unknownParam(name string) error {
	known := make([]string, 0, len(envNames))
	for n := range envNames {
		known = append(known, n)
	}
	sort.Strings(known)
	return fmt.Errorf("unknown parameter %s (parameters: %s)", quote(name), strings.Join(known, ", "))
}

func checkName(param, v string) []error {
	if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
		return []error{fmt.Errorf("parameter %q: %s is not a valid name (lower-case letters, digits and '-', at most 63 characters)", param, quote(v))}
	}
	return nil
}

func isComponent(c string) bool {
	for _, k := range render.Components {
		if k == c {
			return true
		}
	}
	return false
}

// quote quotes a value for a message, shortened so hostile input cannot flood the output.
func quote(s string) string {
	return strconv.Quote(oneline.Cut(s, 80))
}

// maxReported bounds how many parameter problems a message lists: a hostile payload could
// carry thousands, and generate prints the message as one paragraph.
const maxReported = 5

type lines []error

func (l lines) Error() string {
	n := len(l)
	if n > maxReported {
		n = maxReported
	}
	s := make([]string, 0, n+1)
	for _, e := range l[:n] {
		s = append(s, e.Error())
	}
	if len(l) > n {
		s = append(s, fmt.Sprintf("and %d more problems", len(l)-n))
	}
	return strings.Join(s, "; ")
}

func joinLines(errs []error) error { return lines(errs) }
