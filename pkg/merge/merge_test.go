package merge_test

import (
	"encoding/json"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"reflect"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func mustEntry(t *testing.T, kind string, body string) config.Entry {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	n, err := config.NormalizeBody(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := config.NewEntry(kind, n)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMergeRules pins every documented merge rule on one namespace entry merged over another.
func TestMergeRules(t *testing.T) {
	tests := []struct {
		name          string
		lower, higher string
		want          string // merged body; "" means the entry is gone
	}{
		{"maps merge key by key",
			`{"namespace":"a","labels":{"x":"1","y":"2"}}`,
			`{"namespace":"a","labels":{"y":"3","z":"4"}}`,
			`{"labels":{"x":"1","y":"3","z":"4"},"namespace":"a"}`},
		{"null removes a key",
			`{"namespace":"a","labels":{"x":"1","y":"2"}}`,
			`{"namespace":"a","labels":{"x":null}}`,
			`{"labels":{"y":"2"},"namespace":"a"}`},
		{"scalars are replaced",
			`{"namespace":"a","defaultDeny":{"enabled":true}}`,
			`{"namespace":"a","defaultDeny":false}`,
			`{"defaultDeny":{"enabled":false},"namespace":"a"}`},
		{"flat and nested quota forms merge field by field",
			`{"namespace":"a","resourceQuota":{"cpu":"4","memory":"8Gi"}}`,
			`{"namespace":"a","resourceQuota":{"hard":{"memory":"16Gi"}}}`,
			`{"namespace":"a","resourceQuota":{"hard":{"cpu":"4","memory":"16Gi"}}}`},
		{"keyed lists merge by name and append new names",
			`{"namespace":"a","roles":[{"name":"r1","rules":[{"verbs":["get"]}]},{"name":"r2","rules":[]}]}`,
			`{"namespace":"a","roles":[{"name":"r2","labels":{"k":"v"}},{"name":"r3"}]}`,
			`{"namespace":"a","roles":[{"name":"r1","rules":[{"verbs":["get"]}]},{"labels":{"k":"v"},"name":"r2","rules":[]},{"name":"r3"}]}`},
		{"keyed list elements are told apart by kind and namespace",
			`{"namespace":"a","roleBindings":[{"name":"b","subjects":[{"kind":"User","name":"ci"}]}]}`,
			`{"namespace":"a","roleBindings":[{"name":"b","subjects":[{"kind":"ServiceAccount","name":"ci"}]}]}`,
			`{"namespace":"a","roleBindings":[{"name":"b","subjects":[{"kind":"User","name":"ci"},{"kind":"ServiceAccount","name":"ci"}]}]}`},
		{"a keyed list element can be deleted",
			`{"namespace":"a","roles":[{"name":"r1"},{"name":"r2"}]}`,
			`{"namespace":"a","roles":[{"name":"r1","$patch":"delete"}]}`,
			`{"namespace":"a","roles":[{"name":"r2"}]}`},
		{"unkeyed lists are replaced",
			`{"namespace":"a","roles":[{"name":"r","rules":[{"verbs":["get"]},{"verbs":["list"]}]}]}`,
			`{"namespace":"a","roles":[{"name":"r","rules":[{"verbs":["watch"]}]}]}`,
			`{"namespace":"a","roles":[{"name":"r","rules":[{"verbs":["watch"]}]}]}`},
		{"a replace element replaces a keyed list",
			`{"namespace":"a","roles":[{"name":"r1"},{"name":"r2"}]}`,
			`{"namespace":"a","roles":[{"$patch":"replace"},{"name":"r3"}]}`,
			`{"namespace":"a","roles":[{"name":"r3"}]}`},
		{"$patch: replace replaces a map",
			`{"namespace":"a","labels":{"x":"1"}}`,
			`{"namespace":"a","labels":{"$patch":"replace","y":"2"}}`,
			`{"labels":{"y":"2"},"namespace":"a"}`},
		{"$patch: delete removes a map",
			`{"namespace":"a","resourceQuota":{"cpu":"1"}}`,
			`{"namespace":"a","resourceQuota":{"$patch":"delete"}}`,
			`{"namespace":"a"}`},
		{"$patch: replace replaces the entry",
			`{"namespace":"a","labels":{"x":"1"},"resourceQuota":{"cpu":"1"}}`,
			`{"namespace":"a","$patch":"replace","labels":{"y":"2"}}`,
			`{"labels":{"y":"2"},"namespace":"a"}`},
		{"$patch: delete removes the entry",
			`{"namespace":"a","labels":{"x":"1"}}`,
			`{"namespace":"a","$patch":"delete"}`,
			``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lower := config.Layer{Ref: config.GlobalLayer, Entries: []config.Entry{mustEntry(t, config.KindNamespace, tt.lower)}}
			higher := config.Layer{Ref: config.EnvLayer("dev"), Entries: []config.Entry{mustEntry(t, config.KindNamespace, tt.higher)}}
			lowerBefore := asJSON(t, lower.Entries[0].Body)
			m, err := merge.Merge([]config.Layer{lower, higher})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(m.Entries) == 1 {
				got = asJSON(t, m.Entries[0].Body)
			}
			if got != tt.want {
				t.Errorf("merged\n got: %s\nwant: %s", got, tt.want)
			}
			if after := asJSON(t, lower.Entries[0].Body); after != lowerBefore {
				t.Errorf("merge modified its input: %s became %s", lowerBefore, after)
			}
		})
	}
}

func TestMergeDeletedEntryCanComeBack(t *testing.T) {
	layers := []config.Layer{
		{Ref: config.GlobalLayer, Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a","labels":{"old":"1"}}`)}},
		{Ref: config.EnvLayer("dev"), Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a","$patch":"delete"}`)}},
		{Ref: config.ClusterLayer("c"), Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a","labels":{"new":"2"}}`)}},
	}
	m, err := merge.Merge(layers)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := asJSON(t, m.Entries[0].Body), `{"labels":{"new":"2"},"namespace":"a"}`; got != want {
		t.Errorf("got %s, want %s (nothing inherited from below the delete)", got, want)
	}
}

func TestMergeRejectsBadDirective(t *testing.T) {
	layers := []config.Layer{{Ref: config.GlobalLayer, Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a","$patch":"explode"}`)}}}
	_, err := merge.Merge(layers)
	if err == nil || !strings.Contains(err.Error(), `global: namespaces[a]: $patch: explode is not a directive (use delete or replace)`) {
		t.Fatalf("got %v", err)
	}
}

func TestNewEntryKeys(t *testing.T) {
	tests := []struct {
		kind, body, key, err string
	}{
		{config.KindNamespace, `{"namespace":"dev-team"}`, "dev-team", ""},
		{config.KindNamespace, `{"name":"dev-team"}`, "dev-team", ""},
		{config.KindNamespace, `{"name":"a","namespace":"b"}`, "", "names itself both"},
		{config.KindRole, `{"name":"r","namespace":"ns"}`, "ns/r", ""},
		{config.KindRole, `{"name":"r"}`, "", `roles[r]: "namespace" is required`},
		{config.KindClusterRole, `{"rules":[]}`, "", `clusterRoles: "name" is required`},
		{config.KindManifest, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n"}}`, "ConfigMap/n/c", ""},
		{config.KindManifest, `{"apiVersion":"v1","kind":"ConfigMap"}`, "", `needs "apiVersion", "kind" and "metadata.name"`},
		{config.KindSettings, `{}`, "settings", ""},
		{"widget", `{}`, "", `unknown entry kind "widget"`},
		{config.KindNamespace, `{"namespace":"a","resourceQuota":{"cpu":"1","hard":{}}}`, "", "not both"},
	}
	for _, tt := range tests {
		var m map[string]any
		_ = json.Unmarshal([]byte(tt.body), &m)
		e, err := config.NewEntry(tt.kind, m)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %s: want error containing %q, got %v", tt.kind, tt.body, tt.err, err)
		case tt.err == "" && err != nil:
			t.Errorf("%s %s: %v", tt.kind, tt.body, err)
		case tt.err == "" && e.Key != tt.key:
			t.Errorf("%s %s: key %q, want %q", tt.kind, tt.body, e.Key, tt.key)
		}
	}
}

func TestSeedItemCanonicalForm(t *testing.T) {
	e := mustEntry(t, config.KindNamespace, `{"namespace": "dev-team", "labels": {"environment": "dev", "team": "backend"}, "annotations": {"purpose": "development"}, "resourceQuota": {"cpu": "4", "memory": "8Gi"}}`)
	want := map[string]any{
		"namespace":     "dev-team",
		"labels":        map[string]any{"environment": "dev", "team": "backend"},
		"annotations":   map[string]any{"purpose": "development"},
		"resourceQuota": map[string]any{"hard": map[string]any{"cpu": "4", "memory": "8Gi"}},
	}
	if !reflect.DeepEqual(e.Body, want) {
		t.Errorf("got %v", e.Body)
	}
}

func TestConfigVersion(t *testing.T) {
	v, err := config.ParseConfigVersion("g7.e3.c12")
	if err != nil || v != (config.ConfigVersion{Global: 7, Env: 3, Cluster: 12}) || v.String() != "g7.e3.c12" {
		t.Fatalf("got %v %v", v, err)
	}
	for _, bad := range []string{"", "latest", "g7.e3", "g7.e3.c12.x", "e3.g7.c12", "g-1.e3.c1", "g07.e3.c1", "gx.e3.c1", "g1.e2.c; rm -rf /"} {
		if _, err := config.ParseConfigVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
