package plugin

import (
	"encoding/json"
	"testing"
)

// TestSourceReadsAsGenerate: what serve reads from an Application's plugin source is what
// generate will read from the environment argocd-cmp-server builds from it.
func TestSourceReadsAsGenerate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     Source
		cluster string
		pinned  string
	}{
		{"parameters", Source{Params: map[string]string{"cluster": "dev-a", "configVersion": "g1.e2.c3"}}, "dev-a", "g1.e2.c3"},
		{"env", Source{Env: map[string]string{"CLUSTER": "dev-a", "CONFIG_VERSION": "g1.e2.c3"}}, "dev-a", "g1.e2.c3"},
		{"parameter before env", Source{Params: map[string]string{"cluster": "dev-a"}, Env: map[string]string{"CLUSTER": "dev-b", "CONFIG_VERSION": "g1.e1.c1"}}, "dev-a", "g1.e1.c1"},
		{"latest", Source{Params: map[string]string{"cluster": " dev-a ", "configVersion": "latest"}}, "dev-a", ""},
		{"none", Source{Params: map[string]string{"cluster": "dev-a"}}, "dev-a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.src.Cluster(); got != tc.cluster {
				t.Errorf("Cluster() = %q, want %q", got, tc.cluster)
			}
			if got := tc.src.PinnedVersion(); got != tc.pinned {
				t.Errorf("PinnedVersion() = %q, want %q", got, tc.pinned)
			}
			// The same source as generate sees it.
			env := map[string]string{}
			var params []map[string]string
			for k, v := range tc.src.Params {
				params = append(params, map[string]string{"name": k, "string": v})
			}
			if len(params) > 0 {
				raw, _ := json.Marshal(params)
				env["ARGOCD_APP_PARAMETERS"] = string(raw)
			}
			for k, v := range tc.src.Env {
				env["ARGOCD_ENV_"+k] = v
			}
			req, err := ParseRequest(env)
			if err != nil {
				t.Fatal(err)
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
