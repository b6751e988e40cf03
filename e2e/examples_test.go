package e2e

// Every shipped example that names the plugin, rendered the way Argo CD renders it: each
// Application (written by hand or produced by an example ApplicationSet) asks the real
// argocd-cmp-server, through Argo CD's repo-server code path, for its manifests, with
// patches present in every published layer. The examples split a cluster into Applications
// by component, so a patch whose target is in another component must not break any of them.
//
// What is Argo CD's and what is the test's: the examples are decoded into Argo CD's own
// types; the plugin generator's parameter sets come from `dynamo-cmp serve` through Argo CD's
// own plugin-generator client; rendering goes through argocd-cmp-server. The rest of the
// ApplicationSet controller is done here, for the generators the examples use: a list
// generator yields its elements, a matrix the merged product of its two generators, the
// cluster generator one parameter set for the Argo CD cluster named like the dynamo-cmp
// cluster (name, server); templates are Go templates with missingkey=error, as the examples
// ask (goTemplate: true), applied to the plugin parameters (templatePatch only changes
// destinations and sync policies, which generate never sees).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/template"

	"github.com/argoproj/argo-cd/v3/applicationset/services/plugin"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/kustomize/kyaml/kio"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

// examplePatches are added to the published layers: at least one patch per component, each
// in a layer of its own choosing, so that every component-restricted render meets patches
// whose targets it does not render.
var examplePatches = map[string]string{
	"global": `
  - name: readonly-label
    target: {kind: ClusterRole, name: platform-readonly}
    json6902: [{op: add, path: /metadata/labels/patched, value: global}]
  - name: metadata-deny-first
    target: {kind: GlobalNetworkPolicy, group: projectcalico.org, name: deny-instance-metadata}
    strategicMerge: {spec: {order: 5}}
`,
	"env/dev": `
  - name: dev-team-quota
    target: {kind: ResourceQuota, namespace: dev-team}
    strategicMerge: {spec: {hard: {cpu: "6"}}}
  - name: restrict-traffic-label
    target: {kind: NetworkPolicy, group: networking.k8s.io, name: restrict-traffic}
    json6902: [{op: add, path: /metadata/labels/patched, value: env}]
`,
	"cluster/" + cluster: `
  - name: bigger-quota
    target: {kind: ResourceQuota, namespace: payments}
    strategicMerge: {spec: {hard: {cpu: "16"}}}
  - name: addon-wave
    target: {kind: Application}
    json6902: [{op: add, path: /metadata/annotations/argocd.argoproj.io~1sync-wave, value: "5"}]
`,
}

// patchedMarks are what the patches above leave in the full render, one per object.
var patchedMarks = map[string]string{
	"ClusterRole /platform-readonly":                     `"patched":"global"`,
	"calico.GlobalNetworkPolicy /deny-instance-metadata": `"order":5`,
	"ResourceQuota dev-team/dev-quota":                   `"cpu":"6"`,
	"NetworkPolicy dev-team/restrict-traffic":            `"patched":"env"`,
	"ResourceQuota payments/dev-quota":                   `"cpu":"16"`,
}

// componentKinds are the kinds each component renders (docs/config.md#components).
var componentKinds = map[string][]string{
	"namespaces": {"Namespace", "ResourceQuota", "LimitRange"},
	"rbac":       {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"},
	"network":    {"NetworkPolicy"},
	"calico":     {"IPPool", "NetworkPolicy", "GlobalNetworkPolicy", "BGPConfiguration"},
	"addons":     {"Application"},
}

func TestExamplesRenderWithPatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := harness.BuildDynamoCmp(t)
	db := harness.StartDynamoDB(t)
	p := &product{db: db, env: db.Env(table)}
	p.cli(t, "table", "create")
	dir := t.TempDir()
	for _, layer := range []string{"global", "env/dev", "cluster/" + cluster} {
		src := readRepoFile(t, "examples/layers/"+layer+".yaml")
		if layer == "cluster/"+cluster {
			// The matrix example's plugin generator selects clusters with tier in (gold,silver).
			src = strings.Replace(src, `tier: "2"`, `tier: gold`, 1)
		}
		file := filepath.Join(dir, strings.ReplaceAll(layer, "/", "-")+".yaml")
		writeFile(t, file, src+"patches:"+examplePatches[layer])
		// Version 1 of every layer carries the patches: the hand-written Application pins g1.e1.c1.
		p.cli(t, "config", "publish", "-f", file, "--layer", layer, "-m", "e2e patches", "--actor", "e2e")
	}
	p.socket = harness.StartCMPServer(t, harness.PluginDir(t), append(append([]string{}, p.env...), harness.PathWith(bin)))
	token := "e2e-examples-token-0123456789abcdef" // 32 bytes at least
	serveURL := startServe(t, p.env, "--generator-token-file", writeSecret(t, dir, "generator-token", token))

	// The full render, as an Application without components gets it.
	full, err := harness.Generate(t, p.socket, harness.GenerateRequest{AppName: cluster + "-all", Project: project,
		Params: []harness.Param{harness.StringParam("cluster", cluster)}, NoTracking: true})
	if err != nil {
		t.Fatalf("full render: %v", err)
	}
	fullByID := map[string]string{}
	for _, m := range full {
		id, _ := manifestID(t, m)
		fullByID[id] = m
	}
	for id, mark := range patchedMarks {
		if !strings.Contains(fullByID[id], mark) {
			t.Errorf("full render: %s lacks %s: %s", id, mark, fullByID[id])
		}
	}

	apps := exampleApplications(t, ctx, serveURL, token)
	if len(apps) < 1+2+5+1 { // single cluster, cluster generator (2), matrix (5), plugin generator
		t.Fatalf("the examples produce %d Applications of the plugin, want at least 9", len(apps))
	}
	for _, app := range apps {
		t.Run(app.source+"/"+app.name, func(t *testing.T) {
			got, err := harness.Generate(t, p.socket, harness.GenerateRequest{AppName: app.name, Project: app.project,
				Namespace: app.namespace, Params: app.params, NoTracking: true})
			if err != nil {
				t.Fatalf("params %s: %v", paramsString(app.params), err)
			}
			if len(got) == 0 {
				t.Fatal("no manifests")
			}
			allowed := map[string]bool{}
			for _, c := range app.components() {
				for _, k := range componentKinds[c] {
					allowed[k] = true
				}
			}
			for _, m := range got {
				id, kind := manifestID(t, m)
				if !allowed[kind] {
					t.Errorf("%s is not of the components %v", id, app.components())
				}
				if fullByID[id] == "" {
					t.Errorf("%s is not in the full render", id)
				} else if !sameJSON(t, m, fullByID[id]) {
					t.Errorf("%s differs from the full render:\n got  %s\n want %s", id, m, fullByID[id])
				}
			}
		})
	}
}

// exampleApp is one Application of the plugin that an example defines or generates.
type exampleApp struct {
	source, name, project, namespace string
	params                           []harness.Param
}

func (a exampleApp) components() []string {
	for _, p := range a.params {
		if p.Name == "components" {
			return p.Array
		}
	}
	return []string{"namespaces", "rbac", "network", "calico", "addons", "manifests"}
}

// exampleApplications reads every manifests/examples file and returns the Applications of
// the plugin each one defines or generates, in file order.
func exampleApplications(t *testing.T, ctx context.Context, serveURL, token string) []exampleApp {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(harness.RepoRoot(t), "manifests/examples/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var apps []exampleApp
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := kio.FromBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		base := filepath.Base(file)
		for _, n := range nodes {
			doc, err := n.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			switch n.GetKind() {
			case "Application":
				var app v1alpha1.Application
				if err := sigsyaml.UnmarshalStrict(doc, &app); err != nil {
					t.Fatalf("%s: %v", base, err)
				}
				if src := app.Spec.Source; src != nil && src.Plugin != nil && src.Plugin.Name == harness.ProductPluginName {
					apps = append(apps, exampleApp{source: base, name: app.Name, project: app.Spec.Project,
						namespace: app.Spec.Destination.Namespace, params: pluginParams(t, src.Plugin.Parameters, nil)})
				}
			case "ApplicationSet":
				var set v1alpha1.ApplicationSet
				if err := sigsyaml.UnmarshalStrict(doc, &set); err != nil {
					t.Fatalf("%s: %v", base, err)
				}
				src := set.Spec.Template.Spec.Source
				if src == nil || src.Plugin == nil || src.Plugin.Name != harness.ProductPluginName {
					continue
				}
				if !set.Spec.GoTemplate {
					t.Fatalf("%s: ApplicationSet %s: the examples use goTemplate", base, set.Name)
				}
				var sets []map[string]any
				for _, g := range set.Spec.Generators {
					sets = append(sets, generatorParams(t, ctx, set.Name, nestedOf(g), g.Matrix, serveURL, token)...)
				}
				if len(sets) == 0 {
					t.Fatalf("%s: ApplicationSet %s generates no Application", base, set.Name)
				}
				for _, vars := range sets {
					apps = append(apps, exampleApp{source: base + "/" + set.Name, name: execTemplate(t, set.Spec.Template.Name, vars),
						project: execTemplate(t, set.Spec.Template.Spec.Project, vars), namespace: set.Spec.Template.Spec.Destination.Namespace,
						params: pluginParams(t, src.Plugin.Parameters, vars)})
				}
			}
		}
	}
	return apps
}

// nestedOf views a top-level generator's terminal generators as a nested one.
func nestedOf(g v1alpha1.ApplicationSetGenerator) v1alpha1.ApplicationSetNestedGenerator {
	return v1alpha1.ApplicationSetNestedGenerator{List: g.List, Clusters: g.Clusters, Plugin: g.Plugin, Git: g.Git,
		SCMProvider: g.SCMProvider, ClusterDecisionResource: g.ClusterDecisionResource, PullRequest: g.PullRequest}
}

// generatorParams returns the parameter sets of one generator (see the file comment).
func generatorParams(t *testing.T, ctx context.Context, appSet string, g v1alpha1.ApplicationSetNestedGenerator, matrix *v1alpha1.MatrixGenerator, serveURL, token string) []map[string]any {
	t.Helper()
	switch {
	case matrix != nil:
		if len(matrix.Generators) != 2 {
			t.Fatalf("ApplicationSet %s: a matrix has two generators", appSet)
		}
		var out []map[string]any
		for _, a := range generatorParams(t, ctx, appSet, matrix.Generators[0], nil, serveURL, token) {
			for _, b := range generatorParams(t, ctx, appSet, matrix.Generators[1], nil, serveURL, token) {
				m := maps.Clone(a)
				maps.Copy(m, b)
				out = append(out, m)
			}
		}
		return out
	case g.List != nil:
		var out []map[string]any
		for _, e := range g.List.Elements {
			var m map[string]any
			if err := json.Unmarshal(e.Raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	case g.Clusters != nil:
		return []map[string]any{{"name": cluster, "nameNormalized": cluster, "server": "https://" + cluster + ".example.com"}}
	case g.Plugin != nil:
		svc, err := plugin.NewPluginService(appSet, serveURL, token, 10)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := svc.List(ctx, g.Plugin.Input.Parameters)
		if err != nil {
			t.Fatalf("ApplicationSet %s: the plugin generator: %v", appSet, err)
		}
		var out []map[string]any
		for _, set := range resp.Output.Parameters {
			m := maps.Clone(set)
			m["generator"] = map[string]any{"input": map[string]any{"parameters": g.Plugin.Input.Parameters}}
			out = append(out, m)
		}
		return out
	}
	t.Fatalf("ApplicationSet %s: a generator this test does not know", appSet)
	return nil
}

// pluginParams turns an Application's plugin parameters into the harness's, templated with
// vars when they come from an ApplicationSet.
func pluginParams(t *testing.T, in v1alpha1.ApplicationSourcePluginParameters, vars map[string]any) []harness.Param {
	t.Helper()
	fill := func(s string) string {
		if vars == nil {
			return s
		}
		return execTemplate(t, s, vars)
	}
	var out []harness.Param
	for _, p := range in {
		switch {
		case p.String_ != nil:
			out = append(out, harness.StringParam(p.Name, fill(*p.String_)))
		case p.OptionalArray != nil:
			values := make([]string, len(p.Array))
			for i, v := range p.Array {
				values[i] = fill(v)
			}
			out = append(out, harness.ArrayParam(p.Name, values...))
		case p.OptionalMap != nil:
			m := map[string]string{}
			for k, v := range p.Map {
				m[k] = fill(v)
			}
			out = append(out, harness.MapParam(p.Name, m))
		}
	}
	return out
}

func execTemplate(t *testing.T, text string, vars map[string]any) string {
	t.Helper()
	tmpl, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		t.Fatalf("template %q: %v", text, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, vars); err != nil {
		t.Fatalf("template %q: %v", text, err)
	}
	return b.String()
}

// manifestID names a manifest "Kind namespace/name", the Calico kinds prefixed with
// "calico."; kind is its kind.
func manifestID(t *testing.T, manifest string) (id, kind string) {
	t.Helper()
	var obj struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, manifest)
	}
	id = obj.Kind + " " + obj.Metadata.Namespace + "/" + obj.Metadata.Name
	if strings.HasPrefix(obj.APIVersion, "projectcalico.org/") {
		id = "calico." + id
	}
	return id, obj.Kind
}

func paramsString(params []harness.Param) string {
	parts := make([]string, len(params))
	for i, p := range params {
		b, _ := json.Marshal(p)
		parts[i] = string(b)
	}
	sort.Strings(parts)
	return fmt.Sprintf("[%s]", strings.Join(parts, ","))
}
