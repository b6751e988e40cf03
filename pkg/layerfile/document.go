package layerfile

import "github.com/dynamo-cmp/dynamo-cmp/pkg/config"

//go:generate go run ./internal/schemagen -o ../../schema/layer.schema.json

// Document is the shape of a layer file, field by field, with the entry types its sections
// decode into: the JSON Schema of layer files (schema/layer.schema.json) is generated from it,
// and a test keeps its fields equal to the sections the parser reads (config.Sections).
// Every field is optional: a higher layer's entry sets only what it changes, and any map may
// hold a "$patch" merge directive.
type Document struct {
	// APIVersion, when set, is dynamo-cmp.io/v1.
	APIVersion string `json:"apiVersion,omitempty" jsonschema:"enum=dynamo-cmp.io/v1"`
	// Kind, when set, is Layer.
	Kind string `json:"kind,omitempty" jsonschema:"enum=Layer"`
	// Layer names the layer: global, env/<environment> or cluster/<name>.
	Layer               string                      `json:"layer,omitempty" jsonschema:"pattern=^(global|env/[^/]+|cluster/[^/]+)$"`
	Cluster             *config.Cluster             `json:"cluster,omitempty"`
	Settings            *config.Settings            `json:"settings,omitempty"`
	Namespaces          []config.Namespace          `json:"namespaces,omitempty"`
	Roles               []config.Role               `json:"roles,omitempty"`
	RoleBindings        []config.RoleBinding        `json:"roleBindings,omitempty"`
	ClusterRoles        []config.ClusterRole        `json:"clusterRoles,omitempty"`
	ClusterRoleBindings []config.ClusterRoleBinding `json:"clusterRoleBindings,omitempty"`
	NetworkPolicies     []config.NetworkPolicy      `json:"networkPolicies,omitempty"`
	Calico              *Calico                     `json:"calico,omitempty"`
	Addons              []config.Addon              `json:"addons,omitempty"`
	// Manifests are extra Kubernetes objects, as written.
	Manifests []map[string]any `json:"manifests,omitempty"`
	Patches   []config.Patch   `json:"patches,omitempty"`
}

// Calico is the calico section of a layer file.
type Calico struct {
	IPPools               []config.IPPool                    `json:"ipPools,omitempty"`
	NetworkPolicies       []config.CalicoNetworkPolicy       `json:"networkPolicies,omitempty"`
	GlobalNetworkPolicies []config.CalicoGlobalNetworkPolicy `json:"globalNetworkPolicies,omitempty"`
	BGPConfigurations     []config.BGPConfiguration          `json:"bgpConfigurations,omitempty"`
}
