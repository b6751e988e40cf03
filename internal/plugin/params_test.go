package plugin_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestParseRequest(t *testing.T) {
	v := config.ConfigVersion{Global: 7, Env: 3, Cluster: 12}
	tests := []struct {
		name string
		env  map[string]string
		want plugin.Request
		err  string
	}{
		{
			name: "parameters JSON as argocd-cmp-server sends it",
			env: map[string]string{
				"ARGOCD_APP_PARAMETERS":   `[{"name":"cluster","string":"dev-k3s"},{"name":"configVersion","string":"g7.e3.c12"},{"name":"components","array":["rbac","network"]}]`,
				"ARGOCD_APP_PROJECT_NAME": "platform", "ARGOCD_APP_NAME": "dev-k3s-bootstrap",
				"PARAM_CLUSTER": "ignored-when-json-is-present",
			},
			want: plugin.Request{Cluster: "dev-k3s", Version: &v, Components: []string{"rbac", "network"}, Project: "platform", App: "dev-k3s-bootstrap"},
		},
		{
			name: "PARAM_ fallback",
			env:  map[string]string{"PARAM_CLUSTER": "dev-k3s", "PARAM_ENVIRONMENT": "dev", "PARAM_CONFIGVERSION": "latest", "PARAM_COMPONENTS_1": "calico", "PARAM_COMPONENTS_0": "namespaces"},
			want: plugin.Request{Cluster: "dev-k3s", Environment: "dev", Components: []string{"namespaces", "calico"}},
		},
		{
			name: "ARGOCD_ENV_ fallback, parameters win",
			env: map[string]string{
				"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","string":"from-param"}]`,
				"ARGOCD_ENV_CLUSTER":    "from-env", "ARGOCD_ENV_ENVIRONMENT": "prod", "ARGOCD_ENV_COMPONENTS": "rbac, addons",
				"ARGOCD_ENV_CONFIG_VERSION": "g7.e3.c12",
			},
			want: plugin.Request{Cluster: "from-param", Environment: "prod", Version: &v, Components: []string{"rbac", "addons"}},
		},
		{name: "cluster required", env: map[string]string{}, err: `parameter "cluster" is required`},
		{name: "shell metacharacters", env: map[string]string{"PARAM_CLUSTER": "dev; rm -rf / #"},
			err: `parameter "cluster": "dev; rm -rf / #" is not a valid name`},
		{name: "path traversal", env: map[string]string{"PARAM_CLUSTER": "../../etc/passwd"},
			err: `parameter "cluster": "../../etc/passwd" is not a valid name`},
		{name: "bad version", env: map[string]string{"PARAM_CLUSTER": "c", "PARAM_CONFIGVERSION": "v12"},
			err: `parameter "configVersion": configVersion "v12": expected g<N>.e<N>.c<N>`},
		{name: "unknown component", env: map[string]string{"PARAM_CLUSTER": "c", "PARAM_COMPONENTS": "secrets"},
			err: `parameter "components": "secrets" is not a component (namespaces, rbac, network, calico, addons, manifests)`},
		{name: "unknown parameter", env: map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"clustr","string":"c"}]`},
			err: `unknown parameter "clustr" (parameters: cluster, components, configVersion, environment)`},
		{name: "list for a string", env: map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","array":["a","b"]}]`},
			err: `parameter "cluster" (ARGOCD_APP_PARAMETERS): must be a string, not a list`},
		{name: "broken JSON", env: map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":`},
			err: `ARGOCD_APP_PARAMETERS is not the JSON list Argo CD sends`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plugin.ParseRequest(tt.env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want error containing %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseRequest: any parameter payload gives a request or an error, never a panic, and an
// accepted cluster name is always a DNS label (it ends up in keys and messages).
func FuzzParseRequest(f *testing.F) {
	f.Add(`[{"name":"cluster","string":"dev-k3s"},{"name":"components","array":["rbac"]}]`, "g1.e2.c3")
	f.Add(`[{"name":"cluster","map":{"a":"b"}}]`, "latest")
	f.Add(`not json`, "")
	f.Fuzz(func(t *testing.T, params, version string) {
		r, err := plugin.ParseRequest(map[string]string{"ARGOCD_APP_PARAMETERS": params, "ARGOCD_ENV_CONFIG_VERSION": version})
		if err != nil {
			return
		}
		if r.Cluster == "" || strings.ContainsAny(r.Cluster, "/.;$ \n") {
			t.Fatalf("accepted cluster %q", r.Cluster)
		}
	})
}

// TestParseRequestWrongShape: a parameter given in the wrong shape is reported as that, and
// only as that: a cluster given as a list or a map is not also "required".
func TestParseRequestWrongShape(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"cluster as a list", map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","array":["a","b"]}]`},
			`parameter "cluster" (ARGOCD_APP_PARAMETERS): must be a string, not a list`},
		{"cluster as an empty list", map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","array":[]}]`},
			`parameter "cluster" (ARGOCD_APP_PARAMETERS): must be a string, not a list`},
		{"cluster as a map", map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","map":{"a":"b"}}]`},
			`parameter "cluster": must be a string, not a map`},
		{"cluster as PARAM_ list", map[string]string{"PARAM_CLUSTER_0": "a"},
			`parameter "cluster" (PARAM_CLUSTER_<i>): must be a string, not a list`},
		{"components as a map", map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"cluster","string":"c"},{"name":"components","map":{"a":"b"}}]`},
			`parameter "components": must be a string or a list, not a map`},
		{"environment as a list, cluster missing", map[string]string{"ARGOCD_APP_PARAMETERS": `[{"name":"environment","array":["dev"]}]`},
			`parameter "cluster" is required: set it in the Application's spec.source.plugin.parameters (an ApplicationSet passes {{.name}} of its cluster generator); parameter "environment" (ARGOCD_APP_PARAMETERS): must be a string, not a list`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugin.ParseRequest(tt.env)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}
