package merge_test

import (
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestUnmatchedDeletes(t *testing.T) {
	global := config.Layer{Ref: config.GlobalLayer, Version: 3, Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a"}`)}}
	env := config.Layer{Ref: config.EnvLayer("dev"), Version: 2, Entries: []config.Entry{mustEntry(t, config.KindNamespace, `{"namespace":"a","$patch":"delete"}`)}}
	del := func(ns string) config.Entry {
		return mustEntry(t, config.KindNamespace, `{"namespace":"`+ns+`","$patch":"delete"}`)
	}
	tests := []struct {
		name  string
		layer config.Layer
		lower []config.Layer
		want  string
	}{
		{"deletes what global has", config.Layer{Ref: config.EnvLayer("dev"), Entries: []config.Entry{del("a")}}, []config.Layer{global}, ""},
		{"deletes again what a middle layer deleted", config.Layer{Ref: config.ClusterLayer("c"), Entries: []config.Entry{del("a")}}, []config.Layer{global, env}, ""},
		{"misspelt", config.Layer{Ref: config.ClusterLayer("c"), Entries: []config.Entry{del("b")}}, []config.Layer{global, env},
			"cluster/c: namespaces[b]: $patch: delete of an entry no lower layer has (global@3, env/dev@2): check its kind and name, or drop the deletion"},
		{"in global", config.Layer{Ref: config.GlobalLayer, Entries: []config.Entry{del("a")}}, nil,
			"global: namespaces[a]: $patch: delete of an entry no lower layer has (global is the lowest layer): check its kind and name, or drop the deletion"},
		{"over an environment never published", config.Layer{Ref: config.ClusterLayer("c"), Entries: []config.Entry{del("b")}}, []config.Layer{global, {Ref: config.EnvLayer("qa")}},
			"cluster/c: namespaces[b]: $patch: delete of an entry no lower layer has (global@3, env/qa (never published)): check its kind and name, or drop the deletion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := merge.UnmatchedDeletes(tc.layer, tc.lower)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
