package e2e

// The health check for argoproj.io/Application that manifests/examples/helm-values.yaml ships
// (configs.cm), run by Argo CD's own Lua VM (util/lua, what the application controller runs
// for resource.customizations.health.*) on child Applications in the states the rollout of an
// add-on passes through. No server: the end-to-end runs are TestAddonsAppOfApps and
// TestAddonsRolloutWave.

import (
	"fmt"
	"testing"

	"github.com/argoproj/argo-cd/v3/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

func TestApplicationHealthCheck(t *testing.T) {
	script := helmValuesCM(t)["resource.customizations.health.argoproj.io_Application"]
	if script == "" {
		t.Fatal("helm-values.yaml ships no configs.cm resource.customizations.health.argoproj.io_Application")
	}
	const spec = `
spec:
  project: platform
  destination: {name: dev-k3s, namespace: hello}
  source: {repoURL: registry.example/charts, chart: hello, targetRevision: %s, helm: {releaseName: dev-k3s-hello}}
`
	compared := func(version string) string {
		return `
    comparedTo:
      destination: {name: dev-k3s, namespace: hello}
      source: {repoURL: registry.example/charts, chart: hello, targetRevision: ` + version + `, helm: {releaseName: dev-k3s-hello}}`
	}
	app := func(version, status string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: dev-k3s-hello, namespace: argocd}\n" +
			fmt.Sprintf(spec, version) + status
	}
	for _, tc := range []struct {
		name, obj, want string
	}{
		{"never reconciled", app("0.1.0", ""), "Progressing"},
		{"synced and healthy on its source", app("0.1.0", `status:
  sync:
    status: Synced`+compared("0.1.0")+`
  health: {status: Healthy}
  operationState: {phase: Succeeded}
`), "Healthy"},
		{"its own health passed through", app("0.1.0", `status:
  sync:
    status: Synced`+compared("0.1.0")+`
  health: {status: Progressing, message: rolling}
`), "Progressing"},
		{"a chart version that does not exist", app("9.9.9", `status:
  sync:
    status: Unknown`+compared("9.9.9")+`
  health: {status: Healthy}
  conditions:
    - {type: ComparisonError, message: "failed to pull chart hello 9.9.9: not found"}
`), "Degraded"},
		{"the last sync failed", app("0.1.0", `status:
  sync:
    status: OutOfSync`+compared("0.1.0")+`
  health: {status: Healthy}
  operationState: {phase: Failed, message: "one or more objects failed to apply"}
`), "Degraded"},
		// The parent has just changed the child's spec: what the status says (Synced,
		// Healthy) is about the previous version, not yet compared with the new one.
		{"spec changed, status of the previous version", app("9.9.9", `status:
  sync:
    status: Synced`+compared("0.1.0")+`
  health: {status: Healthy}
  operationState: {phase: Succeeded}
`), "Progressing"},
		// Rolled back: the error is about the version the child no longer has.
		{"rolled back, error of the bad version", app("0.1.0", `status:
  sync:
    status: Unknown`+compared("9.9.9")+`
  health: {status: Healthy}
  conditions:
    - {type: ComparisonError, message: "failed to pull chart hello 9.9.9: not found"}
`), "Progressing"},
		{"multi-source, one source changed", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: dev-k3s-hello, namespace: argocd}
spec:
  destination: {name: dev-k3s, namespace: hello}
  sources:
    - {repoURL: registry.example/charts, chart: hello, targetRevision: 9.9.9}
    - {repoURL: https://git.example.com/values.git, targetRevision: main, ref: values}
status:
  sync:
    status: Synced
    comparedTo:
      sources:
        - {repoURL: registry.example/charts, chart: hello, targetRevision: 0.1.0}
        - {repoURL: https://git.example.com/values.git, targetRevision: main, ref: values}
  health: {status: Healthy}
`, "Progressing"},
		{"multi-source, compared", `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: dev-k3s-hello, namespace: argocd}
spec:
  destination: {name: dev-k3s, namespace: hello}
  sources:
    - {repoURL: registry.example/charts, chart: hello, targetRevision: 0.1.0}
    - {repoURL: https://git.example.com/values.git, targetRevision: main, ref: values}
status:
  sync:
    status: Synced
    comparedTo:
      sources:
        - {repoURL: registry.example/charts, chart: hello, targetRevision: 0.1.0}
        - {repoURL: https://git.example.com/values.git, targetRevision: main, ref: values}
  health: {status: Healthy}
`, "Healthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := sigsyaml.Unmarshal([]byte(tc.obj), &obj.Object); err != nil {
				t.Fatal(err)
			}
			hs, err := lua.VM{}.ExecuteHealthLua(obj, script)
			if err != nil {
				t.Fatal(err)
			}
			if string(hs.Status) != tc.want {
				t.Errorf("health %s (%q), want %s", hs.Status, hs.Message, tc.want)
			}
		})
	}
}
