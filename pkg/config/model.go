package config

import "fmt"

// The typed form of merged entries. Field names follow the json tags, which are what layer
// files and DynamoDB items use; decoding is strict (unknown fields are errors).

// Cluster is the cluster record, held by the cluster/<name> layer.
type Cluster struct {
	Name string `json:"name"`
	// Environment names the env/<environment> layer merged under this cluster.
	Environment string `json:"environment"`
	Region      string `json:"region"`
	// Projects lists the Argo CD projects allowed to render this cluster; empty allows any.
	Projects []string `json:"projects,omitempty"`
	// Labels describe the cluster to ApplicationSet generators (tier, team ...).
	Labels map[string]string `json:"labels,omitempty"`
	// Vars are free variables, referenced as ${vars.<name>}.
	Vars map[string]string `json:"vars,omitempty"`
}

// Settings are the cross-cutting settings of a layer.
type Settings struct {
	// CommonLabels are added to every rendered object.
	CommonLabels map[string]string `json:"commonLabels,omitempty"`
	// CommonAnnotations are added to every rendered object.
	CommonAnnotations map[string]string `json:"commonAnnotations,omitempty"`
	// ArgoCDNamespace is where add-on Applications are created (default "argocd").
	ArgoCDNamespace string `json:"argocdNamespace,omitempty"`
	// Vars are default variables for every cluster the layer applies to; the cluster's own
	// vars win.
	Vars map[string]string `json:"vars,omitempty"`
}

// ObjectMeta holds the labels and annotations an entry adds to the object it renders.
type ObjectMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Namespace is a namespace with everything that lives in it by default.
type Namespace struct {
	Namespace string `json:"namespace"`
	ObjectMeta
	ResourceQuota   *ResourceQuota  `json:"resourceQuota,omitempty"`
	LimitRange      *LimitRange     `json:"limitRange,omitempty"`
	DefaultDeny     *DefaultDeny    `json:"defaultDeny,omitempty"`
	Roles           []Role          `json:"roles,omitempty"`
	RoleBindings    []RoleBinding   `json:"roleBindings,omitempty"`
	NetworkPolicies []NetworkPolicy `json:"networkPolicies,omitempty"`
}

// ResourceQuota is a namespace's quota. The seed's flat form {cpu: "4"} means Hard.
type ResourceQuota struct {
	// Name defaults to "<environment>-quota".
	Name          string            `json:"name,omitempty"`
	Hard          map[string]string `json:"hard"`
	Scopes        []string          `json:"scopes,omitempty"`
	ScopeSelector *ScopeSelector    `json:"scopeSelector,omitempty"`
}

// ScopeSelector mirrors core/v1 ScopeSelector.
type ScopeSelector struct {
	MatchExpressions []ScopedResourceSelectorRequirement `json:"matchExpressions,omitempty"`
}

// ScopedResourceSelectorRequirement mirrors the core/v1 type.
type ScopedResourceSelectorRequirement struct {
	ScopeName string   `json:"scopeName"`
	Operator  string   `json:"operator"`
	Values    []string `json:"values,omitempty"`
}

// LimitRange holds container, pod and claim limits of a namespace.
type LimitRange struct {
	// Name defaults to "<environment>-limits".
	Name                  string       `json:"name,omitempty"`
	Container             *LimitValues `json:"container,omitempty"`
	Pod                   *LimitValues `json:"pod,omitempty"`
	PersistentVolumeClaim *LimitValues `json:"persistentVolumeClaim,omitempty"`
}

// LimitValues are the resource lists of one LimitRange item.
type LimitValues struct {
	Default              map[string]string `json:"default,omitempty"`
	DefaultRequest       map[string]string `json:"defaultRequest,omitempty"`
	Min                  map[string]string `json:"min,omitempty"`
	Max                  map[string]string `json:"max,omitempty"`
	MaxLimitRequestRatio map[string]string `json:"maxLimitRequestRatio,omitempty"`
}

// DefaultDeny switches on a NetworkPolicy that denies all ingress and egress of the namespace.
// "defaultDeny: true" is short for {enabled: true}.
type DefaultDeny struct {
	// Enabled defaults to true when the block is present.
	Enabled *bool `json:"enabled,omitempty"`
	// AllowDNS keeps egress to the cluster DNS (kube-system/kube-dns, port 53) open.
	AllowDNS bool `json:"allowDNS,omitempty"`
	// Name defaults to "default-deny".
	Name string `json:"name,omitempty"`
}

// IsEnabled reports whether the policy is rendered.
func (d *DefaultDeny) IsEnabled() bool { return d != nil && (d.Enabled == nil || *d.Enabled) }

// PolicyRule mirrors rbac/v1 PolicyRule.
type PolicyRule struct {
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
	Verbs           []string `json:"verbs"`
}

// Role is a namespaced rbac/v1 Role. Inside a namespace entry, Namespace may be omitted.
type Role struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	ObjectMeta
	Rules []PolicyRule `json:"rules"`
}

// RoleRef mirrors rbac/v1 RoleRef; Kind is Role or ClusterRole.
type RoleRef struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	APIGroup string `json:"apiGroup,omitempty"`
}

// Subject mirrors rbac/v1 Subject; Kind is User, Group or ServiceAccount.
type Subject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	APIGroup  string `json:"apiGroup,omitempty"`
}

// RoleBinding is a namespaced rbac/v1 RoleBinding.
type RoleBinding struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	ObjectMeta
	RoleRef  RoleRef   `json:"roleRef"`
	Subjects []Subject `json:"subjects"`
}

// ClusterRole is an rbac/v1 ClusterRole.
type ClusterRole struct {
	Name string `json:"name"`
	ObjectMeta
	Rules           []PolicyRule     `json:"rules,omitempty"`
	AggregationRule *AggregationRule `json:"aggregationRule,omitempty"`
}

// AggregationRule mirrors rbac/v1 AggregationRule.
type AggregationRule struct {
	ClusterRoleSelectors []LabelSelector `json:"clusterRoleSelectors"`
}

// ClusterRoleBinding is an rbac/v1 ClusterRoleBinding.
type ClusterRoleBinding struct {
	Name string `json:"name"`
	ObjectMeta
	RoleRef  RoleRef   `json:"roleRef"`
	Subjects []Subject `json:"subjects"`
}

// LabelSelector mirrors meta/v1 LabelSelector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement mirrors the meta/v1 type.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy. PodSelector defaults to all pods.
type NetworkPolicy struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	ObjectMeta
	PodSelector *LabelSelector      `json:"podSelector,omitempty"`
	PolicyTypes []string            `json:"policyTypes,omitempty"`
	Ingress     []NetworkPolicyRule `json:"ingress,omitempty"`
	Egress      []NetworkPolicyRule `json:"egress,omitempty"`
}

// NetworkPolicyRule is an ingress rule (From) or an egress rule (To).
type NetworkPolicyRule struct {
	From  []NetworkPolicyPeer `json:"from,omitempty"`
	To    []NetworkPolicyPeer `json:"to,omitempty"`
	Ports []NetworkPolicyPort `json:"ports,omitempty"`
}

// NetworkPolicyPeer mirrors networking/v1 NetworkPolicyPeer.
type NetworkPolicyPeer struct {
	PodSelector       *LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock       `json:"ipBlock,omitempty"`
}

// IPBlock mirrors networking/v1 IPBlock.
type IPBlock struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

// NetworkPolicyPort mirrors networking/v1 NetworkPolicyPort.
type NetworkPolicyPort struct {
	Protocol string       `json:"protocol,omitempty"`
	Port     *IntOrString `json:"port,omitempty"`
	EndPort  *int64       `json:"endPort,omitempty"`
}

// IntOrString is a port number or a named port.
type IntOrString struct {
	Int    int64
	Str    string
	IsText bool
}

// IPPool is a projectcalico.org/v3 IPPool.
type IPPool struct {
	Name string `json:"name"`
	ObjectMeta
	CIDR             string   `json:"cidr"`
	BlockSize        *int64   `json:"blockSize,omitempty"`
	IPIPMode         string   `json:"ipipMode,omitempty"`
	VXLANMode        string   `json:"vxlanMode,omitempty"`
	NATOutgoing      *bool    `json:"natOutgoing,omitempty"`
	Disabled         *bool    `json:"disabled,omitempty"`
	DisableBGPExport *bool    `json:"disableBGPExport,omitempty"`
	NodeSelector     string   `json:"nodeSelector,omitempty"`
	AllowedUses      []string `json:"allowedUses,omitempty"`
}

// CalicoNetworkPolicy is a namespaced projectcalico.org/v3 NetworkPolicy.
type CalicoNetworkPolicy struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	ObjectMeta
	Order                  *float64     `json:"order,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	Types                  []string     `json:"types,omitempty"`
	Ingress                []CalicoRule `json:"ingress,omitempty"`
	Egress                 []CalicoRule `json:"egress,omitempty"`
}

// CalicoGlobalNetworkPolicy is a projectcalico.org/v3 GlobalNetworkPolicy.
type CalicoGlobalNetworkPolicy struct {
	Name string `json:"name"`
	ObjectMeta
	Order                  *float64     `json:"order,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	NamespaceSelector      string       `json:"namespaceSelector,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	Types                  []string     `json:"types,omitempty"`
	Ingress                []CalicoRule `json:"ingress,omitempty"`
	Egress                 []CalicoRule `json:"egress,omitempty"`
	DoNotTrack             bool         `json:"doNotTrack,omitempty"`
	PreDNAT                bool         `json:"preDNAT,omitempty"`
	ApplyOnForward         bool         `json:"applyOnForward,omitempty"`
}

// CalicoRule is a Calico policy rule.
type CalicoRule struct {
	Action      string           `json:"action"`
	Protocol    *IntOrString     `json:"protocol,omitempty"`
	NotProtocol *IntOrString     `json:"notProtocol,omitempty"`
	IPVersion   *int64           `json:"ipVersion,omitempty"`
	ICMP        *CalicoICMP      `json:"icmp,omitempty"`
	Source      CalicoEntityRule `json:"source,omitempty"`
	Destination CalicoEntityRule `json:"destination,omitempty"`
}

// CalicoICMP matches ICMP type and code.
type CalicoICMP struct {
	Type *int64 `json:"type,omitempty"`
	Code *int64 `json:"code,omitempty"`
}

// CalicoEntityRule is the source or destination of a Calico rule.
type CalicoEntityRule struct {
	Nets              []string               `json:"nets,omitempty"`
	NotNets           []string               `json:"notNets,omitempty"`
	Selector          string                 `json:"selector,omitempty"`
	NotSelector       string                 `json:"notSelector,omitempty"`
	NamespaceSelector string                 `json:"namespaceSelector,omitempty"`
	Ports             []IntOrString          `json:"ports,omitempty"`
	NotPorts          []IntOrString          `json:"notPorts,omitempty"`
	ServiceAccounts   *CalicoServiceAccounts `json:"serviceAccounts,omitempty"`
}

// CalicoServiceAccounts matches service accounts by name or selector.
type CalicoServiceAccounts struct {
	Names    []string `json:"names,omitempty"`
	Selector string   `json:"selector,omitempty"`
}

// BGPConfiguration is a projectcalico.org/v3 BGPConfiguration.
type BGPConfiguration struct {
	Name string `json:"name"`
	ObjectMeta
	LogSeverityScreen      string          `json:"logSeverityScreen,omitempty"`
	NodeToNodeMeshEnabled  *bool           `json:"nodeToNodeMeshEnabled,omitempty"`
	ASNumber               *int64          `json:"asNumber,omitempty"`
	ListenPort             *int64          `json:"listenPort,omitempty"`
	ServiceClusterIPs      []CalicoCIDRRef `json:"serviceClusterIPs,omitempty"`
	ServiceExternalIPs     []CalicoCIDRRef `json:"serviceExternalIPs,omitempty"`
	ServiceLoadBalancerIPs []CalicoCIDRRef `json:"serviceLoadBalancerIPs,omitempty"`
}

// CalicoCIDRRef is {cidr: ...}.
type CalicoCIDRRef struct {
	CIDR string `json:"cidr"`
}

// Addon is an add-on installed by an Argo CD Application (app-of-apps).
type Addon struct {
	Name string `json:"name"`
	ObjectMeta
	// Enabled defaults to true; a higher layer may switch an inherited add-on off.
	Enabled *bool `json:"enabled,omitempty"`
	// Project is the Argo CD project of the Application (default "default").
	Project string `json:"project,omitempty"`
	// Namespace is the add-on's destination namespace.
	Namespace string `json:"namespace"`
	// Destination defaults to the cluster named like this cluster in Argo CD.
	Destination *AddonDestination `json:"destination,omitempty"`
	Chart       *AddonChart       `json:"chart,omitempty"`
	Git         *AddonGit         `json:"git,omitempty"`
	// Values are the Helm values (helm.valuesObject), merged across layers.
	Values     map[string]any   `json:"values,omitempty"`
	SyncPolicy *AddonSyncPolicy `json:"syncPolicy,omitempty"`
}

// IsEnabled reports whether the add-on is rendered.
func (a *Addon) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// AddonDestination is an Argo CD destination: a cluster name or server URL.
type AddonDestination struct {
	Name   string `json:"name,omitempty"`
	Server string `json:"server,omitempty"`
}

// AddonChart is a Helm chart in a Helm repository.
type AddonChart struct {
	RepoURL string `json:"repoURL"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
}

// AddonGit is a path in a Git repository.
type AddonGit struct {
	RepoURL  string `json:"repoURL"`
	Path     string `json:"path"`
	Revision string `json:"revision,omitempty"`
}

// AddonSyncPolicy is the Application's sync policy.
type AddonSyncPolicy struct {
	Automated   *AddonAutomated `json:"automated,omitempty"`
	SyncOptions []string        `json:"syncOptions,omitempty"`
}

// AddonAutomated mirrors Argo CD's automated sync policy.
type AddonAutomated struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// Patch changes rendered objects: a strategic-merge patch or JSON 6902 operations, applied to
// every object its target matches.
type Patch struct {
	Name           string         `json:"name"`
	Target         PatchTarget    `json:"target"`
	StrategicMerge map[string]any `json:"strategicMerge,omitempty"`
	JSON6902       []JSONPatchOp  `json:"json6902,omitempty"`

	// TargetLayer and OpsLayer name the layers that set the target and the operations
	// (strategicMerge or json6902), for the problems only rendering finds. Set by Resolve.
	TargetLayer string `json:"-"`
	OpsLayer    string `json:"-"`
	// Layers are the layers whose own entry contributes to the patch, lowest first (see
	// ObjectOrigin.Layers). Set by Resolve.
	Layers []LayerRef `json:"-"`
}

// PatchTarget selects objects by kind, and optionally name, namespace and API group.
type PatchTarget struct {
	Kind      string `json:"kind"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Group     string `json:"group,omitempty"`
}

// JSONPatchOp is one RFC 6902 operation.
type JSONPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Problem reports a problem of the patch that only rendering finds, in the form of every
// other validation problem: the layer that set the field, the entry and the field.
func (p *Patch) Problem(field, format string, args ...any) *ValidationError {
	layer := p.OpsLayer
	if field == "target" {
		layer = p.TargetLayer
	}
	return &ValidationError{Problems: []FieldError{{
		Layer: layer, Entry: EntryPath(KindPatch, p.Name), Path: field, Msg: fmt.Sprintf(format, args...),
	}}}
}

// OpsField is the name of the field that holds the patch's operations.
func (p *Patch) OpsField() string {
	if p.JSON6902 != nil {
		return "json6902"
	}
	return "strategicMerge"
}
