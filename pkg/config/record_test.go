package config_test

import (
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
	"reflect"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestRecordOf checks the reading of a cluster record from a layer's entries that the store
// keeps on its items: it decodes as Resolve does (a number where a string is expected is that
// string), and a field that does not decode is left out (validation reports it).
func TestRecordOf(t *testing.T) {
	layers, err := layerfile.ParseLayers("test.yaml", []byte(`layer: cluster/c1
cluster:
  environment: dev
  region: [eu-west-1]
  projects: [platform, 3, team-a]
  labels: {tier: gold, n: 1}
  vars: wrong
namespaces:
  - name: a
`))
	if err != nil {
		t.Fatal(err)
	}
	got := config.RecordOf(layers[0].Entries)
	want := &config.Cluster{Name: "c1", Environment: "dev", Projects: []string{"platform", "3", "team-a"}, Labels: map[string]string{"tier": "gold", "n": "1"}}
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

// TestRecordOfIsTheResolvedRecord: the record the store keeps for a cluster (the environment
// generate reads with, the projects it checks, the labels and region the ApplicationSet
// generator serves) is the record the cluster's manifests are rendered from.
func TestRecordOfIsTheResolvedRecord(t *testing.T) {
	for _, record := range []string{
		"{environment: dev, region: eu-west-1}",
		"{environment: dev, region: eu-west-1, projects: [platform, team-a], labels: {tier: gold}, vars: {owner: x}}",
		"{environment: dev, region: 7, projects: [platform, 3], labels: {tier: 1, gpu: true}, vars: {}}",
		"{name: c1, environment: dev, region: eu-west-1, labels: {}}",
	} {
		t.Run(record, func(t *testing.T) {
			layers, err := layerfile.ParseLayers("test.yaml", []byte("layer: cluster/c1\ncluster: "+record+"\nnamespaces:\n  - name: a\n"))
			if err != nil {
				t.Fatal(err)
			}
			model, err := validate.Resolve(layers, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if got := config.RecordOf(layers[0].Entries); !reflect.DeepEqual(*got, model.Cluster) {
				t.Errorf("RecordOf = %+v, Resolve renders %+v", *got, model.Cluster)
			}
		})
	}
}
