package config_test

import (
	"reflect"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

// TestRecordOf checks the lenient reading of a cluster record from a layer's entries that
// the store keeps on its items: wrong-typed fields are left out (validation reports them).
func TestRecordOf(t *testing.T) {
	layers, err := config.ParseLayers("test.yaml", []byte(`layer: cluster/c1
cluster:
  environment: dev
  region: 7
  projects: [platform, 3, team-a]
  labels: {tier: gold, n: 1}
  vars: {}
namespaces:
  - name: a
`))
	if err != nil {
		t.Fatal(err)
	}
	got := config.RecordOf(layers[0].Entries)
	want := &config.Cluster{Name: "c1", Environment: "dev", Projects: []string{"platform", "team-a"}, Labels: map[string]string{"tier": "gold"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RecordOf = %+v, want %+v", got, want)
	}
	if got := config.RecordOf([]config.Entry{{Kind: "namespace", Key: "a"}}); got != nil {
		t.Errorf("RecordOf without a cluster entry = %+v, want nil", got)
	}
	if env := config.ClusterEnvironment(layers[0]); env != "dev" {
		t.Errorf("ClusterEnvironment = %q, want dev", env)
	}
}
