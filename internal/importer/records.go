package importer

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// RecordsFile is the small file of cluster records import reads (--clusters):
//
//	clusters:
//	  dev-eu1: {environment: dev, region: eu-west-1, projects: [platform], labels: {tier: "2"}, vars: {account: "1234"}}
type RecordsFile struct {
	Clusters map[string]RecordFields `json:"clusters"`
}

// RecordFields are the fields of a cluster record, as in a cluster layer's `cluster:`.
type RecordFields struct {
	Environment string            `json:"environment,omitempty"`
	Region      string            `json:"region,omitempty"`
	Projects    []string          `json:"projects,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Vars        map[string]string `json:"vars,omitempty"`
}

// ReadRecords reads a cluster records file strictly (an unknown field is an error naming it).
func ReadRecords(path string) (map[string]config.Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f RecordsFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]config.Cluster, len(f.Clusters))
	for name, r := range f.Clusters {
		if _, err := config.ParseLayerRef("cluster/" + name); err != nil {
			return nil, fmt.Errorf("%s: clusters.%s: %w", path, name, err)
		}
		out[name] = config.Cluster{Name: name, Environment: r.Environment, Region: r.Region, Projects: r.Projects, Labels: r.Labels, Vars: r.Vars}
	}
	return out, nil
}
