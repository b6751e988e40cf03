package plugin

import (
	"encoding/json"
	"testing"
)

// TestSourceReadsAsGenerate: parameter precedence is one rule (lookup) that both readers
// use: what serve reads from an Application's plugin source is what generate will read from
// the environment argocd-cmp-server builds from it; where generate refuses the parameters,
// serve reads what the table says.
func TestSourceReadsAsGenerate(t *testing.T) {
	// The rule itself: a given parameter wins in any shape, an empty env entry stands in for
	// nothing, an unknown parameter has no env entry.
	env := map[string]string{"CLUSTER": "from-env", "CONFIG_VERSION": ""}
	get := func(n string) string { return env[n] }
	mark := func(envName, v string) string { return envName + "=" + v }
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   string
		ok     bool
	}{
		{name: ParamCluster, params: map[string]string{ParamCluster: "from-param"}, want: "from-param", ok: true},
		{name: ParamCluster, params: map[string]string{ParamCluster: ""}, want: "", ok: true},
		{name: ParamCluster, want: "CLUSTER=from-env", ok: true},
		{name: ParamConfigVersion, want: "", ok: false},
		{name: "unknown", want: "", ok: false},
	} {
		if got, ok := lookup(tc.name, tc.params, get, mark); got != tc.want || ok != tc.ok {
			t.Errorf("lookup(%q, %v) = %q, %v; want %q, %v", tc.name, tc.params, got, ok, tc.want, tc.ok)
		}
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name    string
		params  []Param
		env     []EnvEntry
		cluster string
		pinned  string
		refused bool // generate refuses the parameters
	}{
		{name: "parameters", params: []Param{{"cluster", str("dev-a")}, {"configVersion", str("g1.e2.c3")}}, cluster: "dev-a", pinned: "g1.e2.c3"},
		{name: "env", env: []EnvEntry{{"CLUSTER", "dev-a"}, {"CONFIG_VERSION", "g1.e2.c3"}}, cluster: "dev-a", pinned: "g1.e2.c3"},
		{name: "parameter before env", params: []Param{{"cluster", str("dev-a")}}, env: []EnvEntry{{"CLUSTER", "dev-b"}, {"CONFIG_VERSION", "g1.e1.c1"}}, cluster: "dev-a", pinned: "g1.e1.c1"},
		{name: "latest", params: []Param{{"cluster", str(" dev-a ")}, {"configVersion", str("latest")}}, cluster: "dev-a"},
		{name: "none", params: []Param{{"cluster", str("dev-a")}}, cluster: "dev-a"},
		{name: "env given twice: the last", env: []EnvEntry{{"CLUSTER", "dev-a"}, {"CONFIG_VERSION", "g1.e1.c1"}, {"CLUSTER", "dev-b"}, {"CONFIG_VERSION", "g2.e2.c2"}}, cluster: "dev-b", pinned: "g2.e2.c2"},
		{name: "array parameter: the env does not stand in", params: []Param{{"cluster", str("dev-a")}, {Name: "configVersion"}}, env: []EnvEntry{{"CONFIG_VERSION", "g1.e1.c1"}}, cluster: "dev-a", refused: true},
		{name: "parameter given twice: the first", params: []Param{{"cluster", str("dev-a")}, {"cluster", str("dev-b")}}, cluster: "dev-a", refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := NewSource(tc.params, tc.env)
			if got := src.Cluster(); got != tc.cluster {
				t.Errorf("Cluster() = %q, want %q", got, tc.cluster)
			}
			if got := src.PinnedVersion(); got != tc.pinned {
				t.Errorf("PinnedVersion() = %q, want %q", got, tc.pinned)
			}
			// The same source as generate sees it: the parameters as ARGOCD_APP_PARAMETERS
			// (an array parameter as an array), each env entry as ARGOCD_ENV_<name>, the
			// later one winning.
			env := map[string]string{}
			var params []map[string]any
			for _, p := range tc.params {
				if p.String != nil {
					params = append(params, map[string]any{"name": p.Name, "string": *p.String})
				} else {
					params = append(params, map[string]any{"name": p.Name, "array": []string{"x"}})
				}
			}
			if len(params) > 0 {
				raw, _ := json.Marshal(params)
				env["ARGOCD_APP_PARAMETERS"] = string(raw)
			}
			for _, e := range tc.env {
				env["ARGOCD_ENV_"+e.Name] = e.Value
			}
			req, err := ParseRequest(env)
			if (err != nil) != tc.refused {
				t.Fatalf("generate refuses: %v, want refused %v", err, tc.refused)
			}
			if tc.refused {
				return
			}
			if req.Cluster != tc.cluster || (req.Version == nil) != (tc.pinned == "") || (req.Version != nil && req.Version.String() != tc.pinned) {
				t.Errorf("generate reads cluster %q version %s, serve %q %q", req.Cluster, req.VersionString(), tc.cluster, tc.pinned)
			}
		})
	}
	if EnvName(ParamCluster) != "CLUSTER" || EnvName(ParamConfigVersion) != "CONFIG_VERSION" {
		t.Errorf("env names %q %q", EnvName(ParamCluster), EnvName(ParamConfigVersion))
	}
}
