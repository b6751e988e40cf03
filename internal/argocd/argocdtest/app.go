// Package argocdtest builds Argo CD Applications as the API answers them, and ApplicationSet
// generators as they are written, for the tests of the packages that read them.
package argocdtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
)

// PluginName is the default CMP name of the service ("dynamo-cmp-v1").
const PluginName = "dynamo-cmp-v1"

// App is an Argo CD Application as the API shows it, reduced to what the service reads.
type App struct {
	Namespace, Name, Cluster string
	Plugin                   string // default PluginName
	Pinned                   string // spec's configVersion ("" renders latest)
	Compared                 string // status.sync.comparedTo's configVersion
	Sync, Health, HealthMsg  string
	OpPhase, OpMessage       string
	OpStarted                time.Time
	// OpSource is the configVersion the operation syncs, as Argo CD records it in
	// operation.sync.source (automated syncs) and syncResult.source ("": neither is set).
	OpSource string
	// OpRetries is the operation's retryCount; OpFinished its finishedAt (set while Argo CD
	// waits to retry a failed attempt); OpResults the resources of its syncResult.
	OpRetries     int64
	OpFinished    time.Time
	OpResults     []argocd.ResourceResult
	Condition     string // a condition's message
	ConditionType string // default ComparisonError
	ViaEnv        bool   // cluster and configVersion in plugin.env instead of parameters
	MultiSource   bool   // the plugin is sources[1]
	Automated     bool   // spec.syncPolicy.automated (prune, no self-heal)
}

func (a *App) source(version string) map[string]any {
	plugin := map[string]any{"name": a.Plugin}
	if a.Plugin == "" {
		plugin["name"] = PluginName
	}
	if a.ViaEnv {
		env := []any{map[string]any{"name": "CLUSTER", "value": a.Cluster}}
		if version != "" {
			env = append(env, map[string]any{"name": "CONFIG_VERSION", "value": version})
		}
		plugin["env"] = env
	} else {
		params := []any{map[string]any{"name": "cluster", "string": a.Cluster}}
		if version != "" {
			params = append(params, map[string]any{"name": "configVersion", "string": version})
		}
		plugin["parameters"] = params
	}
	return map[string]any{"repoURL": "https://example.com/empty.git", "path": ".", "targetRevision": "HEAD", "plugin": plugin}
}

// JSON is the Application as the Argo CD API answers it.
func (a *App) JSON() map[string]any {
	spec := map[string]any{"project": "default", "destination": map[string]any{"name": a.Cluster, "namespace": "default"}}
	if a.Automated {
		spec["syncPolicy"] = map[string]any{"automated": map[string]any{"prune": true, "selfHeal": false}}
	}
	compared := map[string]any{}
	if a.MultiSource {
		other := map[string]any{"repoURL": "https://example.com/values.git", "ref": "values"}
		spec["sources"] = []any{other, a.source(a.Pinned)}
		compared["sources"] = []any{other, a.source(a.Compared)}
	} else {
		spec["source"] = a.source(a.Pinned)
		compared["source"] = a.source(a.Compared)
	}
	status := map[string]any{
		"sync":   map[string]any{"status": a.Sync, "comparedTo": compared},
		"health": map[string]any{"status": a.Health, "message": a.HealthMsg},
	}
	if a.OpPhase != "" {
		op := map[string]any{"phase": a.OpPhase, "message": a.OpMessage, "startedAt": a.OpStarted.UTC().Format(time.RFC3339),
			"operation": map[string]any{"sync": map[string]any{"revision": "HEAD"}, "initiatedBy": map[string]any{"automated": true}}}
		result := map[string]any{"revision": "HEAD"}
		if a.OpSource != "" {
			if a.MultiSource {
				srcs := []any{map[string]any{"repoURL": "https://example.com/values.git", "ref": "values"}, a.source(a.OpSource)}
				op["operation"].(map[string]any)["sync"].(map[string]any)["sources"] = srcs
				result["sources"] = srcs
			} else {
				op["operation"].(map[string]any)["sync"].(map[string]any)["source"] = a.source(a.OpSource)
				result["source"] = a.source(a.OpSource)
			}
		}
		if len(a.OpResults) > 0 {
			result["resources"] = a.OpResults
		}
		if a.OpSource != "" || len(a.OpResults) > 0 {
			op["syncResult"] = result
		}
		if a.OpRetries > 0 {
			op["retryCount"] = a.OpRetries
		}
		if !a.OpFinished.IsZero() {
			op["finishedAt"] = a.OpFinished.UTC().Format(time.RFC3339)
		}
		status["operationState"] = op
	}
	if a.Condition != "" {
		typ := a.ConditionType
		if typ == "" {
			typ = "ComparisonError"
		}
		status["conditions"] = []any{map[string]any{"type": typ, "message": a.Condition}}
	}
	return map[string]any{"metadata": map[string]any{"name": a.Name, "namespace": a.Namespace}, "spec": spec, "status": status}
}

// Application decodes the Application as the service's Argo CD client would read it from the
// API, failing the test when it cannot.
func (a *App) Application(tb testing.TB) *argocd.Application {
	tb.Helper()
	data, err := json.Marshal(a.JSON())
	if err != nil {
		tb.Fatal(err)
	}
	var app argocd.Application
	if err := json.Unmarshal(data, &app); err != nil {
		tb.Fatal(err)
	}
	return &app
}

// PluginGenerator is an ApplicationSet plugin generator naming configMap, with input
// parameters (nil: none).
func PluginGenerator(configMap string, params map[string]any) map[string]any {
	p := map[string]any{"configMapRef": map[string]any{"name": configMap}, "requeueAfterSeconds": 1800}
	if params != nil {
		p["input"] = map[string]any{"parameters": params}
	}
	return map[string]any{"plugin": p}
}

// ListGenerator is an ApplicationSet list generator of one element.
func ListGenerator() map[string]any {
	return map[string]any{"list": map[string]any{"elements": []any{map[string]any{"component": "namespaces"}}}}
}
