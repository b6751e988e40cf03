package config

import "errors"

// Model is a cluster's validated configuration: the merge of its layers with variables
// substituted and defaults applied, ready to render.
type Model struct {
	Cluster  Cluster
	Settings Settings
	// Layers are the merged layers, lowest first, with the versions they were read at.
	Layers []LayerVersion

	Namespaces                  []Namespace
	Roles                       []Role
	RoleBindings                []RoleBinding
	ClusterRoles                []ClusterRole
	ClusterRoleBindings         []ClusterRoleBinding
	NetworkPolicies             []NetworkPolicy
	IPPools                     []IPPool
	CalicoNetworkPolicies       []CalicoNetworkPolicy
	CalicoGlobalNetworkPolicies []CalicoGlobalNetworkPolicy
	BGPConfigurations           []BGPConfiguration
	Addons                      []Addon
	// Manifests are the extra objects, as written.
	Manifests []map[string]any
	Patches   []Patch

	// origins says which entry renders each object, and which layers wrote it (Origin).
	origins map[ObjectKey]origin
}

// LayerVersion is a layer reference with the version it was read at (0 for files).
type LayerVersion struct {
	Ref     LayerRef
	Version int
}

// ErrNoClusterRecord is returned when no layer holds the record of the requested cluster.
var ErrNoClusterRecord = errors.New("no cluster record")

// Default names.
const (
	DefaultArgoCDNamespace = "argocd"
	DefaultDenyPolicyName  = "default-deny"
	DefaultAddonProject    = "default"
)
