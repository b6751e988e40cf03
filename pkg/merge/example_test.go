package merge_test

import (
	"fmt"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
)

// Merge a cluster's layers, lowest first: maps merge key by key, and "$patch: delete"
// removes what a lower layer defined.
func ExampleMerge() {
	entry := func(kind string, body map[string]any) config.Entry {
		e, err := config.NewEntry(kind, body)
		if err != nil {
			panic(err)
		}
		return e
	}
	global := config.Layer{Ref: config.GlobalLayer, Entries: []config.Entry{
		entry(config.KindNamespace, map[string]any{"namespace": "monitoring", "labels": map[string]any{"team": "platform", "tier": "shared"}}),
		entry(config.KindNamespace, map[string]any{"namespace": "sandbox"}),
	}}
	cluster := config.Layer{Ref: config.ClusterLayer("prod-eu1"), Entries: []config.Entry{
		entry(config.KindNamespace, map[string]any{"namespace": "monitoring", "labels": map[string]any{"tier": "critical"}}),
		entry(config.KindNamespace, map[string]any{"namespace": "sandbox", "$patch": "delete"}),
	}}
	m, err := merge.Merge([]config.Layer{global, cluster})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range m.Entries {
		fmt.Println(e.ID(), e.Body["labels"])
	}
	fmt.Println("tier set by", m.Origin(config.KindNamespace, "monitoring", config.Path{}.Child("labels").Child("tier")))
	// Output:
	// namespace/monitoring map[team:platform tier:critical]
	// tier set by cluster/prod-eu1
}
