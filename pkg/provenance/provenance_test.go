package provenance_test

import (
	"encoding/json"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/provenance"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// The three layers of provenanceLayers, as published versions.
const provenanceGlobal = `
layer: global
settings:
  commonLabels: {managed-by: platform}
namespaces:
  - namespace: team-a
    labels: {team: a, tier: gold}
    resourceQuota: {cpu: "4", memory: 8Gi, pods: "100"}
    roles:
      - name: reader
        rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
      - name: writer
        rules: [{apiGroups: [""], resources: [pods], verbs: [create]}]
  - namespace: legacy
    labels: {old: "yes"}
`

const provenanceEnv = `
layer: env/prod
namespaces:
  - namespace: team-a
    labels: {region: "zone-${cluster.region}", tier: null}
    resourceQuota: {cpu: "8"}
    roles:
      - name: writer
        rules: [{apiGroups: [""], resources: [pods], verbs: [create, delete]}]
  - namespace: legacy
    $patch: delete
`

const provenanceCluster = `
layer: cluster/prod-eu1
cluster: {environment: prod, region: eu-west-1}
namespaces:
  - namespace: team-a
    resourceQuota: {cpu: "16", memory: null}
  - namespace: legacy
    labels: {owner: ops}
patches:
  - name: ns-label
    target: {kind: Namespace, name: team-a}
    json6902: [{op: add, path: /metadata/labels/istio-injection, value: enabled}]
  - name: quota-extra
    target: {kind: ResourceQuota, namespace: team-a}
    strategicMerge:
      spec: {hard: {services: "10"}}
`

func provenanceLayers(t *testing.T) []config.Layer {
	t.Helper()
	var layers []config.Layer
	for _, l := range []struct {
		doc     string
		version int
	}{{provenanceGlobal, 7}, {provenanceEnv, 3}, {provenanceCluster, 12}} {
		parsed, err := layerfile.ParseLayers("layer.yaml", []byte(l.doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parsed {
			p.Version = l.version
			layers = append(layers, p)
		}
	}
	return layers
}

// TestExplainOrigins pins which layer each rendered field is attributed to: a value set
// globally, overridden by env and by cluster, deleted, from a keyed-list element, from a
// variable, from the settings' common labels, from a patch, and the renderer's own fields.
func TestExplainOrigins(t *testing.T) {
	objects, err := ops.Explain(provenanceLayers(t), "prod-eu1", nil)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]provenance.FieldOrigin{} // "Kind/ns/name path" → origin
	for _, o := range objects {
		for _, f := range o.Fields {
			fields[o.ID()+" "+f.Path] = f
		}
	}
	tests := []struct {
		name, field string
		value       string
		origin      string // FieldOrigin.Origin()
		where       string // the entry field, "" for defaults and patches
		variables   string // "name←layer@version", comma-separated
	}{
		{"set globally", "ResourceQuota/team-a/prod-quota spec.hard.pods", "100", "global@7", "namespaces[team-a].resourceQuota.hard.pods", ""},
		{"overridden by env, then by cluster", "ResourceQuota/team-a/prod-quota spec.hard.cpu", "16", "cluster/prod-eu1@12", "namespaces[team-a].resourceQuota.hard.cpu", ""},
		{"a label set globally", "Namespace/team-a metadata.labels.team", "a", "global@7", "namespaces[team-a].labels.team", ""},
		{"keyed-list element overridden by env, its unkeyed rules replaced", "Role/team-a/writer rules[0].verbs[1]", "delete", "env/prod@3", "namespaces[team-a].roles[writer].rules[0].verbs[1]", ""},
		{"keyed-list element only global sets", "Role/team-a/reader rules[0].verbs[0]", "get", "global@7", "namespaces[team-a].roles[reader].rules[0].verbs[0]", ""},
		{"element name comes from the layer that introduced it", "Role/team-a/writer metadata.name", "writer", "global@7", "namespaces[team-a].roles[writer].name", ""},
		{"a variable", "Namespace/team-a metadata.labels.region", "zone-eu-west-1", "env/prod@3", "namespaces[team-a].labels.region", "cluster.region←cluster/prod-eu1@12"},
		{"common labels of the settings", "ResourceQuota/team-a/prod-quota metadata.labels.managed-by", "platform", "global@7", "settings.commonLabels.managed-by", ""},
		{"the entry's namespace is the layer that introduced it", "ResourceQuota/team-a/prod-quota metadata.namespace", "team-a", "global@7", "namespaces[team-a].namespace", ""},
		{"re-added after $patch: delete", "Namespace/legacy metadata.name", "legacy", "cluster/prod-eu1@12", "namespaces[legacy].namespace", ""},
		{"re-added after $patch: delete, its own label", "Namespace/legacy metadata.labels.owner", "ops", "cluster/prod-eu1@12", "namespaces[legacy].labels.owner", ""},
		{"a field a patch set", "ResourceQuota/team-a/prod-quota spec.hard.services", "10", "patch quota-extra (cluster/prod-eu1@12)", "", ""},
		{"a field a JSON 6902 patch set", "Namespace/team-a metadata.labels.istio-injection", "enabled", "patch ns-label (cluster/prod-eu1@12)", "", ""},
		{"a field next to a patched one keeps its layer", "Namespace/team-a metadata.labels.team", "a", "global@7", "namespaces[team-a].labels.team", ""},
		{"a derived name is the renderer's", "ResourceQuota/team-a/prod-quota metadata.name", "prod-quota", "default", "", ""},
		{"kind is the renderer's", "Role/team-a/reader kind", "Role", "default", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := fields[tt.field]
			if !ok {
				t.Fatalf("%s is not among the explained fields:\n%s", tt.field, fieldList(fields, strings.Fields(tt.field)[0]))
			}
			if got := valueText(f.Value); got != tt.value {
				t.Errorf("value = %q, want %q", got, tt.value)
			}
			if got := f.Origin(); got != tt.origin {
				t.Errorf("origin = %q, want %q", got, tt.origin)
			}
			where := ""
			if f.Source != nil {
				where = f.Source.Where()
			}
			if where != tt.where {
				t.Errorf("set in %q, want %q", where, tt.where)
			}
			var vars []string
			for _, v := range f.Variables {
				vars = append(vars, v.Name+"←"+v.Source.LayerVersion())
			}
			if got := strings.Join(vars, ","); got != tt.variables {
				t.Errorf("variables = %q, want %q", got, tt.variables)
			}
		})
	}

	// What the layers deleted is not rendered, so it is not explained.
	for _, gone := range []string{
		"ResourceQuota/team-a/prod-quota spec.hard.memory", // memory: null in the cluster layer
		"Namespace/team-a metadata.labels.tier",            // tier: null in the env layer
		"Namespace/legacy metadata.labels.old",             // the env layer deleted the entry
	} {
		if f, ok := fields[gone]; ok {
			t.Errorf("%s is explained (%v), but a layer deleted it", gone, f)
		}
	}
	for _, o := range objects {
		want := map[string]string{"ResourceQuota/team-a/prod-quota": "quota-extra", "Namespace/team-a": "ns-label"}[o.ID()]
		if got := strings.Join(o.Patches, ","); got != want {
			t.Errorf("%s: patches = %q, want %q", o.ID(), got, want)
		}
	}
}

func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func fieldList(fields map[string]provenance.FieldOrigin, object string) string {
	var b strings.Builder
	for k, f := range fields {
		if strings.HasPrefix(k, object+" ") {
			b.WriteString("  " + k + " = " + valueText(f.Value) + " ← " + f.Origin() + "\n")
		}
	}
	return b.String()
}
