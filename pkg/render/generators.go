package render

import (
	"slices"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/yamlnode"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Components name the parts of a cluster's configuration that can be rendered separately.
const (
	ComponentNamespaces = "namespaces" // Namespaces, ResourceQuotas, LimitRanges
	ComponentRBAC       = "rbac"       // Roles, RoleBindings, ClusterRoles, ClusterRoleBindings
	ComponentNetwork    = "network"    // Kubernetes NetworkPolicies, default-deny policies included
	ComponentCalico     = "calico"     // projectcalico.org/v3 objects
	ComponentAddons     = "addons"     // Argo CD Applications of the add-ons
	ComponentManifests  = "manifests"  // extra manifests
)

// Components lists every component in render order.
var Components = []string{ComponentNamespaces, ComponentRBAC, ComponentNetwork, ComponentCalico, ComponentAddons, ComponentManifests}

// A generator builds the objects of one component from the model and hands each one to the
// pipeline as soon as it is built, so that a large configuration never holds all its object
// trees in memory at once.
type generator struct {
	component string
	build     func(b *builder, m *config.Model, out emitter)
}

// emitter receives generated objects.
type emitter interface {
	add(n *yaml.Node)
}

var generators = []generator{
	{ComponentNamespaces, namespaces},
	{ComponentRBAC, rbac},
	{ComponentNetwork, networkPolicies},
	{ComponentCalico, calico},
	{ComponentAddons, addons},
	{ComponentManifests, manifests},
}

// newObject starts an object with apiVersion, kind and metadata; the caller adds the rest.
func (b *builder) newObject(apiVersion, kind, name, namespace string, meta config.ObjectMeta, fields int) mapping {
	md := b.mapping(4).str("name", name).str("namespace", namespace).
		stringMap("labels", meta.Labels).stringMap("annotations", meta.Annotations)
	return b.mapping(3+fields).str("apiVersion", apiVersion).str("kind", kind).set("metadata", md.n)
}

// --- namespaces ---

func namespaces(b *builder, m *config.Model, out emitter) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		out.add(b.newObject("v1", "Namespace", ns.Namespace, "", ns.ObjectMeta, 0).n)
		if q := ns.ResourceQuota; q != nil {
			spec := b.mapping(3).stringMap("hard", q.Hard).strings("scopes", q.Scopes)
			if q.ScopeSelector != nil {
				exprs := make([]*yaml.Node, len(q.ScopeSelector.MatchExpressions))
				for j, r := range q.ScopeSelector.MatchExpressions {
					exprs[j] = b.mapping(3).str("scopeName", r.ScopeName).str("operator", r.Operator).strings("values", r.Values).n
				}
				spec.set("scopeSelector", b.mapping(1).set("matchExpressions", b.sequence(exprs)).n)
			}
			out.add(b.newObject("v1", "ResourceQuota", q.Name, ns.Namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n)
		}
		if l := ns.LimitRange; l != nil {
			var limits []*yaml.Node
			for _, item := range []struct {
				typ string
				v   *config.LimitValues
			}{{"Container", l.Container}, {"Pod", l.Pod}, {"PersistentVolumeClaim", l.PersistentVolumeClaim}} {
				if item.v == nil {
					continue
				}
				limits = append(limits, b.mapping(6).str("type", item.typ).
					stringMap("default", item.v.Default).stringMap("defaultRequest", item.v.DefaultRequest).
					stringMap("max", item.v.Max).stringMap("min", item.v.Min).
					stringMap("maxLimitRequestRatio", item.v.MaxLimitRequestRatio).n)
			}
			spec := b.mapping(1).set("limits", b.sequence(limits))
			out.add(b.newObject("v1", "LimitRange", l.Name, ns.Namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n)
		}
	}
}

// --- RBAC ---

func rbac(b *builder, m *config.Model, out emitter) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		for j := range ns.Roles {
			out.add(b.role(&ns.Roles[j]))
		}
		for j := range ns.RoleBindings {
			rb := &ns.RoleBindings[j]
			out.add(b.binding("RoleBinding", rb.Name, rb.Namespace, rb.ObjectMeta, rb.RoleRef, rb.Subjects))
		}
	}
	for i := range m.Roles {
		out.add(b.role(&m.Roles[i]))
	}
	for i := range m.RoleBindings {
		rb := &m.RoleBindings[i]
		out.add(b.binding("RoleBinding", rb.Name, rb.Namespace, rb.ObjectMeta, rb.RoleRef, rb.Subjects))
	}
	for i := range m.ClusterRoles {
		r := &m.ClusterRoles[i]
		obj := b.newObject(rbacAPIVersion, "ClusterRole", r.Name, "", r.ObjectMeta, 2)
		if r.AggregationRule != nil {
			sels := make([]*yaml.Node, len(r.AggregationRule.ClusterRoleSelectors))
			for j := range r.AggregationRule.ClusterRoleSelectors {
				sels[j] = b.labelSelector(&r.AggregationRule.ClusterRoleSelectors[j])
			}
			obj.set("aggregationRule", b.mapping(1).set("clusterRoleSelectors", b.sequence(sels)).n)
		}
		obj.set("rules", b.policyRules(r.Rules))
		out.add(obj.n)
	}
	for i := range m.ClusterRoleBindings {
		rb := &m.ClusterRoleBindings[i]
		out.add(b.binding("ClusterRoleBinding", rb.Name, "", rb.ObjectMeta, rb.RoleRef, rb.Subjects))
	}
}

const rbacAPIVersion = "rbac.authorization.k8s.io/v1"

func (b *builder) role(r *config.Role) *yaml.Node {
	return b.newObject(rbacAPIVersion, "Role", r.Name, r.Namespace, r.ObjectMeta, 1).set("rules", b.policyRules(r.Rules)).n
}

func (b *builder) policyRules(rules []config.PolicyRule) *yaml.Node {
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		items[i] = b.mapping(5).strings("apiGroups", r.APIGroups).strings("resources", r.Resources).
			strings("resourceNames", r.ResourceNames).strings("nonResourceURLs", r.NonResourceURLs).
			strings("verbs", r.Verbs).n
	}
	return b.sequence(items)
}

func (b *builder) binding(kind, name, namespace string, meta config.ObjectMeta, ref config.RoleRef, subjects []config.Subject) *yaml.Node {
	subs := make([]*yaml.Node, len(subjects))
	for i, s := range subjects {
		subs[i] = b.mapping(4).str("kind", s.Kind).str("name", s.Name).str("namespace", s.Namespace).str("apiGroup", s.APIGroup).n
	}
	r := b.mapping(3).str("apiGroup", ref.APIGroup).str("kind", ref.Kind).str("name", ref.Name)
	return b.newObject(rbacAPIVersion, kind, name, namespace, meta, 2).set("roleRef", r.n).set("subjects", b.sequence(subs)).n
}

// --- Kubernetes network policies ---

func networkPolicies(b *builder, m *config.Model, out emitter) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		if ns.DefaultDeny.IsEnabled() {
			out.add(b.defaultDeny(ns.Namespace, ns.DefaultDeny))
		}
		for j := range ns.NetworkPolicies {
			out.add(b.networkPolicy(&ns.NetworkPolicies[j]))
		}
	}
	for i := range m.NetworkPolicies {
		out.add(b.networkPolicy(&m.NetworkPolicies[i]))
	}
}

// defaultDeny denies all ingress and egress of a namespace, optionally keeping DNS open.
func (b *builder) defaultDeny(namespace string, d *config.DefaultDeny) *yaml.Node {
	spec := b.mapping(3).set("podSelector", b.emptyMap()).set("policyTypes", b.stringList([]string{"Ingress", "Egress"}))
	if d.AllowDNS {
		to := b.mapping(2).
			set("namespaceSelector", b.mapping(1).set("matchLabels", b.stringMap(map[string]string{"kubernetes.io/metadata.name": "kube-system"})).n).
			set("podSelector", b.mapping(1).set("matchLabels", b.stringMap(map[string]string{"k8s-app": "kube-dns"})).n)
		ports := b.sequence([]*yaml.Node{
			b.mapping(2).str("protocol", "UDP").set("port", b.integer(53)).n,
			b.mapping(2).str("protocol", "TCP").set("port", b.integer(53)).n,
		})
		rule := b.mapping(2).set("to", b.sequence([]*yaml.Node{to.n})).set("ports", ports)
		spec.set("egress", b.sequence([]*yaml.Node{rule.n}))
	}
	return b.newObject("networking.k8s.io/v1", "NetworkPolicy", d.Name, namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n
}

func (b *builder) networkPolicy(np *config.NetworkPolicy) *yaml.Node {
	sel := b.emptyMap()
	if np.PodSelector != nil {
		sel = b.labelSelector(np.PodSelector)
	}
	spec := b.mapping(4).set("podSelector", sel).strings("policyTypes", np.PolicyTypes)
	if len(np.Ingress) > 0 {
		spec.set("ingress", b.npRules(np.Ingress, "from", func(r config.NetworkPolicyRule) []config.NetworkPolicyPeer { return r.From }))
	}
	if len(np.Egress) > 0 {
		spec.set("egress", b.npRules(np.Egress, "to", func(r config.NetworkPolicyRule) []config.NetworkPolicyPeer { return r.To }))
	}
	return b.newObject("networking.k8s.io/v1", "NetworkPolicy", np.Name, np.Namespace, np.ObjectMeta, 1).set("spec", spec.n).n
}

func (b *builder) npRules(rules []config.NetworkPolicyRule, peersField string, peersOf func(config.NetworkPolicyRule) []config.NetworkPolicyPeer) *yaml.Node {
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		rule := b.mapping(2)
		if peers := peersOf(r); len(peers) > 0 {
			ps := make([]*yaml.Node, len(peers))
			for j, p := range peers {
				pm := b.mapping(3)
				if p.IPBlock != nil {
					pm.set("ipBlock", b.mapping(2).str("cidr", p.IPBlock.CIDR).strings("except", p.IPBlock.Except).n)
				}
				if p.NamespaceSelector != nil {
					pm.set("namespaceSelector", b.labelSelector(p.NamespaceSelector))
				}
				if p.PodSelector != nil {
					pm.set("podSelector", b.labelSelector(p.PodSelector))
				}
				ps[j] = pm.n
			}
			rule.set(peersField, b.sequence(ps))
		}
		if len(r.Ports) > 0 {
			ports := make([]*yaml.Node, len(r.Ports))
			for j, p := range r.Ports {
				pm := b.mapping(3).str("protocol", p.Protocol)
				if p.Port != nil {
					pm.set("port", b.intOrString(*p.Port))
				}
				if p.EndPort != nil {
					pm.set("endPort", b.integer(*p.EndPort))
				}
				ports[j] = pm.n
			}
			rule.set("ports", b.sequence(ports))
		}
		items[i] = rule.n
	}
	return b.sequence(items)
}

func (b *builder) labelSelector(s *config.LabelSelector) *yaml.Node {
	m := b.mapping(2).stringMap("matchLabels", s.MatchLabels)
	if len(s.MatchExpressions) > 0 {
		exprs := make([]*yaml.Node, len(s.MatchExpressions))
		for i, e := range s.MatchExpressions {
			exprs[i] = b.mapping(3).str("key", e.Key).str("operator", e.Operator).strings("values", e.Values).n
		}
		m.set("matchExpressions", b.sequence(exprs))
	}
	return m.n
}

func (b *builder) intOrString(v config.IntOrString) *yaml.Node {
	if v.IsText {
		return b.str(v.Str)
	}
	return b.integer(v.Int)
}

// --- Calico ---

const calicoAPIVersion = "projectcalico.org/v3"

func calico(b *builder, m *config.Model, out emitter) {
	for i := range m.IPPools {
		p := &m.IPPools[i]
		spec := b.mapping(9).str("cidr", p.CIDR)
		if p.BlockSize != nil {
			spec.set("blockSize", b.integer(*p.BlockSize))
		}
		spec.str("ipipMode", p.IPIPMode).str("vxlanMode", p.VXLANMode)
		b.optBool(spec, "natOutgoing", p.NATOutgoing)
		b.optBool(spec, "disabled", p.Disabled)
		b.optBool(spec, "disableBGPExport", p.DisableBGPExport)
		spec.str("nodeSelector", p.NodeSelector).strings("allowedUses", p.AllowedUses)
		out.add(b.newObject(calicoAPIVersion, "IPPool", p.Name, "", p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.CalicoNetworkPolicies {
		p := &m.CalicoNetworkPolicies[i]
		spec := b.mapping(6)
		if p.Order != nil {
			spec.set("order", b.float(*p.Order))
		}
		spec.str("selector", p.Selector).str("serviceAccountSelector", p.ServiceAccountSelector).strings("types", p.Types)
		b.calicoRules(spec, "ingress", p.Ingress)
		b.calicoRules(spec, "egress", p.Egress)
		out.add(b.newObject(calicoAPIVersion, "NetworkPolicy", p.Name, p.Namespace, p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.CalicoGlobalNetworkPolicies {
		p := &m.CalicoGlobalNetworkPolicies[i]
		spec := b.mapping(10)
		if p.Order != nil {
			spec.set("order", b.float(*p.Order))
		}
		spec.str("selector", p.Selector).str("namespaceSelector", p.NamespaceSelector).
			str("serviceAccountSelector", p.ServiceAccountSelector).strings("types", p.Types)
		b.calicoRules(spec, "ingress", p.Ingress)
		b.calicoRules(spec, "egress", p.Egress)
		if p.DoNotTrack {
			spec.set("doNotTrack", b.boolean(true))
		}
		if p.PreDNAT {
			spec.set("preDNAT", b.boolean(true))
		}
		if p.ApplyOnForward {
			spec.set("applyOnForward", b.boolean(true))
		}
		out.add(b.newObject(calicoAPIVersion, "GlobalNetworkPolicy", p.Name, "", p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.BGPConfigurations {
		bgp := &m.BGPConfigurations[i]
		spec := b.mapping(7).str("logSeverityScreen", bgp.LogSeverityScreen)
		b.optBool(spec, "nodeToNodeMeshEnabled", bgp.NodeToNodeMeshEnabled)
		if bgp.ASNumber != nil {
			spec.set("asNumber", b.integer(*bgp.ASNumber))
		}
		if bgp.ListenPort != nil {
			spec.set("listenPort", b.integer(*bgp.ListenPort))
		}
		b.cidrRefs(spec, "serviceClusterIPs", bgp.ServiceClusterIPs)
		b.cidrRefs(spec, "serviceExternalIPs", bgp.ServiceExternalIPs)
		b.cidrRefs(spec, "serviceLoadBalancerIPs", bgp.ServiceLoadBalancerIPs)
		out.add(b.newObject(calicoAPIVersion, "BGPConfiguration", bgp.Name, "", bgp.ObjectMeta, 1).set("spec", spec.n).n)
	}
}

func (b *builder) optBool(m mapping, key string, v *bool) {
	if v != nil {
		m.set(key, b.boolean(*v))
	}
}

func (b *builder) cidrRefs(m mapping, key string, refs []config.CalicoCIDRRef) {
	if len(refs) == 0 {
		return
	}
	items := make([]*yaml.Node, len(refs))
	for i, r := range refs {
		items[i] = b.mapping(1).str("cidr", r.CIDR).n
	}
	m.set(key, b.sequence(items))
}

func (b *builder) calicoRules(spec mapping, key string, rules []config.CalicoRule) {
	if len(rules) == 0 {
		return
	}
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		rm := b.mapping(7).str("action", r.Action)
		if r.Protocol != nil {
			rm.set("protocol", b.intOrString(*r.Protocol))
		}
		if r.NotProtocol != nil {
			rm.set("notProtocol", b.intOrString(*r.NotProtocol))
		}
		if r.IPVersion != nil {
			rm.set("ipVersion", b.integer(*r.IPVersion))
		}
		if r.ICMP != nil {
			im := b.mapping(2)
			if r.ICMP.Type != nil {
				im.set("type", b.integer(*r.ICMP.Type))
			}
			if r.ICMP.Code != nil {
				im.set("code", b.integer(*r.ICMP.Code))
			}
			rm.set("icmp", im.n)
		}
		rm.node("source", b.entityRule(&r.Source))
		rm.node("destination", b.entityRule(&r.Destination))
		items[i] = rm.n
	}
	spec.set(key, b.sequence(items))
}

func (b *builder) entityRule(e *config.CalicoEntityRule) *yaml.Node {
	m := b.mapping(8).strings("nets", e.Nets).strings("notNets", e.NotNets).
		str("selector", e.Selector).str("notSelector", e.NotSelector).str("namespaceSelector", e.NamespaceSelector)
	for _, ports := range []struct {
		key string
		v   []config.IntOrString
	}{{"ports", e.Ports}, {"notPorts", e.NotPorts}} {
		if len(ports.v) == 0 {
			continue
		}
		items := make([]*yaml.Node, len(ports.v))
		for i, p := range ports.v {
			items[i] = b.intOrString(p)
		}
		m.set(ports.key, b.sequence(items))
	}
	if sa := e.ServiceAccounts; sa != nil {
		m.set("serviceAccounts", b.mapping(2).strings("names", sa.Names).str("selector", sa.Selector).n)
	}
	if len(m.n.Content) == 0 {
		return nil
	}
	return m.n
}

// --- add-ons ---

// maxHelmReleaseName is the longest Helm release name (helm template refuses longer ones).
const maxHelmReleaseName = 53

func addons(b *builder, m *config.Model, out emitter) {
	for i := range m.Addons {
		a := &m.Addons[i]
		source := b.mapping(4)
		switch {
		case a.Chart != nil:
			source.str("repoURL", a.Chart.RepoURL).str("chart", a.Chart.Chart).str("targetRevision", a.Chart.Version)
		case a.Git != nil:
			rev := a.Git.Revision
			if rev == "" {
				rev = "HEAD"
			}
			source.str("repoURL", a.Git.RepoURL).str("path", a.Git.Path).str("targetRevision", rev)
		}
		name := config.AddonApplicationName(m.Cluster.Name, a.Name)
		// Argo CD names a chart's Helm release after the Application. An Application renamed
		// to keep add-on names unique keeps the release name it had, so the chart's objects
		// (a LoadBalancer Service ...) keep theirs. A git source gets it only when it is Helm
		// already (values given): a helm block would make any other source Helm.
		helm := b.mapping(2)
		if legacy := m.Cluster.Name + "-" + a.Name; name != legacy && len(legacy) <= maxHelmReleaseName && (a.Chart != nil || len(a.Values) > 0) {
			helm.str("releaseName", legacy)
		}
		if len(a.Values) > 0 {
			helm.set("valuesObject", yamlnode.ToNode(a.Values))
		}
		if len(helm.n.Content) > 0 {
			source.set("helm", helm.n)
		}
		dest := b.mapping(2).str("name", a.Destination.Name).str("server", a.Destination.Server).str("namespace", a.Namespace)
		spec := b.mapping(4).str("project", a.Project).set("source", source.n).set("destination", dest.n)
		if sp := a.SyncPolicy; sp != nil {
			pm := b.mapping(2)
			if sp.Automated != nil {
				am := b.mapping(2)
				if sp.Automated.Prune {
					am.set("prune", b.boolean(true))
				}
				if sp.Automated.SelfHeal {
					am.set("selfHeal", b.boolean(true))
				}
				pm.set("automated", am.n)
			}
			pm.strings("syncOptions", sp.SyncOptions)
			spec.set("syncPolicy", pm.n)
		}
		out.add(b.newObject("argoproj.io/v1alpha1", "Application", name, m.Settings.ArgoCDNamespace, a.ObjectMeta, 1).set("spec", spec.n).n)
	}
}

// --- extra manifests ---

func manifests(b *builder, m *config.Model, out emitter) {
	for _, obj := range m.Manifests {
		out.add(headFirst(yamlnode.ToNode(obj), "apiVersion", "kind", "metadata"))
	}
}

// headFirst moves the given keys of a mapping to its front, in that order, so extra manifests
// read like every other object.
func headFirst(n *yaml.Node, keys ...string) *yaml.Node {
	head := make([]*yaml.Node, 0, len(n.Content))
	for _, k := range keys {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				head = append(head, n.Content[i], n.Content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(keys, n.Content[i].Value) {
			head = append(head, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = head
	return n
}
