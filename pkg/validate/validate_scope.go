package validate

import "strings"

// Which kinds of extra manifests are cluster-scoped. Argo CD puts a namespaced object without
// metadata.namespace into the Application's destination namespace, so an extra manifest must
// name its namespace unless its kind is known to be cluster-scoped (or says it is, with the
// ClusterScopedAnnotation).

// ClusterScopedAnnotation marks an extra manifest of a kind dynamo-cmp does not know as
// cluster-scoped, so that it needs no metadata.namespace (a ClusterIssuer, a ClusterPolicy ...).
const ClusterScopedAnnotation = "dynamo-cmp.io/cluster-scoped"

// clusterScopedKinds lists the cluster-scoped kinds by API group: the built-in ones of
// Kubernetes and Calico's (projectcalico.org, and crd.projectcalico.org where Calico's CRDs
// are used directly).
var clusterScopedKinds = map[string]map[string]bool{
	"":                             {"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true},
	"rbac.authorization.k8s.io":    {"ClusterRole": true, "ClusterRoleBinding": true},
	"apiextensions.k8s.io":         {"CustomResourceDefinition": true},
	"apiregistration.k8s.io":       {"APIService": true},
	"admissionregistration.k8s.io": {"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true},
	"storage.k8s.io":               {"StorageClass": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true, "VolumeAttributesClass": true},
	"scheduling.k8s.io":            {"PriorityClass": true},
	"node.k8s.io":                  {"RuntimeClass": true},
	"networking.k8s.io":            {"IngressClass": true, "IPAddress": true, "ServiceCIDR": true},
	"certificates.k8s.io":          {"CertificateSigningRequest": true, "ClusterTrustBundle": true},
	"flowcontrol.apiserver.k8s.io": {"FlowSchema": true, "PriorityLevelConfiguration": true},
	"resource.k8s.io":              {"DeviceClass": true, "ResourceSlice": true},
	"storagemigration.k8s.io":      {"StorageVersionMigration": true},
	"internal.apiserver.k8s.io":    {"StorageVersion": true},
	"authentication.k8s.io":        {"TokenReview": true, "SelfSubjectReview": true},
	"authorization.k8s.io":         {"SubjectAccessReview": true, "SelfSubjectAccessReview": true, "SelfSubjectRulesReview": true},
	"projectcalico.org":            calicoClusterScoped,
	"crd.projectcalico.org":        calicoClusterScoped,
}

// calicoClusterScoped are the cluster-scoped kinds of Calico's CRDs (libcalico-go/config/crd);
// NetworkPolicy, NetworkSet, StagedNetworkPolicy and StagedKubernetesNetworkPolicy are
// namespaced.
var calicoClusterScoped = map[string]bool{
	"BGPConfiguration": true, "BGPFilter": true, "BGPPeer": true, "BlockAffinity": true, "CalicoNodeStatus": true,
	"ClusterInformation": true, "FelixConfiguration": true, "GlobalNetworkPolicy": true, "GlobalNetworkSet": true,
	"HostEndpoint": true, "IPAMBlock": true, "IPAMConfig": true, "IPAMHandle": true, "IPPool": true,
	"IPReservation": true, "KubeControllersConfiguration": true, "StagedGlobalNetworkPolicy": true, "Tier": true,
}

// isClusterScoped reports whether a kind of the given API group is known to be cluster-scoped.
func isClusterScoped(group, kind string) bool { return clusterScopedKinds[group][kind] }

// builtinGroup reports whether an API group is Kubernetes' own or Calico's, whose
// cluster-scoped kinds clusterScopedKinds lists completely: any other kind of it is namespaced.
func builtinGroup(group string) bool {
	if _, ok := clusterScopedKinds[group]; ok {
		return true
	}
	switch group {
	case "apps", "batch", "autoscaling", "policy", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io":
		return true
	}
	return false
}

// groupKind names a kind with its group for messages: "Application.argoproj.io", "ConfigMap".
func groupKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

// IsClusterScopedKind reports whether objects of the given apiVersion and kind are known to be
// cluster-scoped (the kinds extra manifests may write without metadata.namespace).
func IsClusterScopedKind(apiVersion, kind string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = ""
	}
	return isClusterScoped(group, kind)
}
