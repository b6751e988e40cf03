package plugin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/hostiletest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
)

// maxParamMessage bounds the error of a refused request: generate prints it as its one
// paragraph, which Argo CD shows in its UI.
const maxParamMessage = 4 << 10

// paramsJSON builds ARGOCD_APP_PARAMETERS as argocd-cmp-server does.
func paramsJSON(t *testing.T, params ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkRefused asserts a clear, bounded, single-line refusal that names the offending value
// only in quoted form.
func checkRefused(t *testing.T, env map[string]string, want string) {
	t.Helper()
	var err error
	hostiletest.Bounded(t, 64*hostiletest.MB, func() { _, err = plugin.ParseRequest(env) })
	if err == nil {
		t.Fatalf("accepted; want an error saying %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error does not say %q: %.300s", want, msg)
	}
	var bad []string
	if strings.ContainsAny(msg, "\n\r") {
		bad = append(bad, fmt.Sprintf("the message spans lines: %.300q", msg))
	}
	if len(msg) > maxParamMessage {
		bad = append(bad, fmt.Sprintf("the message has %d bytes", len(msg)))
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// Parameters with shell metacharacters are refused in every way Argo CD can pass them:
// generate never runs a shell, and nothing that is not a DNS label becomes a cluster or
// environment name (they end up in DynamoDB keys and messages).
func TestShellMetacharactersInParameters(t *testing.T) {
	for _, v := range hostiletest.ShellMetacharacters {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			quoted := fmt.Sprintf("%q", v)
			if len(v) > 80 {
				quoted = quoted[:40]
			}
			checkRefused(t, map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "cluster", "string": v})},
				`parameter "cluster": `+quoted+" is not a valid name")
			checkRefused(t, map[string]string{"PARAM_CLUSTER": "ok", "PARAM_ENVIRONMENT": v},
				`parameter "environment": `+quoted+" is not a valid name")
			checkRefused(t, map[string]string{"ARGOCD_ENV_CLUSTER": v}, "is not a valid name")
			checkRefused(t, map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "cluster", "string": "ok"},
				map[string]any{"name": "components", "array": []string{"rbac", v}})}, `parameter "components": `)
			checkRefused(t, map[string]string{"PARAM_CLUSTER": "ok", "PARAM_CONFIGVERSION": v}, `parameter "configVersion"`)
		})
	}
}

func TestHostileParameterPayloads(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	many := make([]map[string]any, 5000)
	for i := range many {
		many[i] = map[string]any{"name": fmt.Sprintf("p%d", i), "string": "x"}
	}
	manyComponents := make([]string, 5000)
	for i := range manyComponents {
		manyComponents[i] = fmt.Sprintf("c%d", i)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "1 MB cluster name", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "cluster", "string": huge})},
			want: "is not a valid name"},
		{name: "1 MB parameter name", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": huge, "string": "x"})},
			want: "unknown parameter"},
		{name: "1 MB PARAM_ variable name", env: map[string]string{"PARAM_" + strings.ToUpper(huge[:100000]): "x", "PARAM_CLUSTER": "ok"},
			want: "unknown parameter"},
		{name: "JSON nested 100,000 deep", env: map[string]string{"ARGOCD_APP_PARAMETERS": strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)},
			want: "ARGOCD_APP_PARAMETERS is not the JSON list Argo CD sends"},
		{name: "a JSON object, not a list", env: map[string]string{"ARGOCD_APP_PARAMETERS": `{"name":"cluster","string":"dev"}`},
			want: "ARGOCD_APP_PARAMETERS is not the JSON list Argo CD sends"},
		{name: "newline in a parameter name", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "clu\nster", "string": "dev"})},
			want: `unknown parameter "clu\nster"`},
		{name: "path traversal", env: map[string]string{"PARAM_CLUSTER": "../../../etc/passwd"},
			want: `"../../../etc/passwd" is not a valid name`},
		{name: "a parameter given twice", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "cluster", "string": "a"}, map[string]any{"name": "cluster", "string": "b"})},
			want: `parameter "cluster" is given twice`},
		{name: "a version number that overflows", env: map[string]string{"PARAM_CLUSTER": "ok", "PARAM_CONFIGVERSION": "g1.e1.c" + strings.Repeat("9", 40)},
			want: "is not a version number"},
		// The environment of a process holds at most 128 KiB per variable, so Argo CD cannot
		// pass more than a few thousand parameters; every one is still reported.
		{name: "5,000 unknown parameters", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, many...)}, want: `unknown parameter "p0"`},
		{name: "5,000 unknown components", env: map[string]string{"ARGOCD_APP_PARAMETERS": paramsJSON(t, map[string]any{"name": "cluster", "string": "ok"}, map[string]any{"name": "components", "array": manyComponents})},
			want: `"c0" is not a component`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRefused(t, tt.env, tt.want) })
	}
}
