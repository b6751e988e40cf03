package render

import (
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
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

// generator is a kio.Reader producing the objects of one component from the model.
type generator struct {
	component string
	model     *config.Model
	build     func(m *config.Model, out *objects)
}

var _ kio.Reader = generator{}

func (g generator) Read() ([]*yaml.RNode, error) {
	var out objects
	g.build(g.model, &out)
	return out, nil
}

// objects collects generated objects.
type objects []*yaml.RNode

func (o *objects) add(n *yaml.Node) { *o = append(*o, yaml.NewRNode(n)) }

// generators returns the generators of the selected components, in render order.
func generators(m *config.Model, selected map[string]bool) []kio.Reader {
	all := []generator{
		{ComponentNamespaces, m, namespaces},
		{ComponentRBAC, m, rbac},
		{ComponentNetwork, m, networkPolicies},
		{ComponentCalico, m, calico},
		{ComponentAddons, m, addons},
		{ComponentManifests, m, manifests},
	}
	var out []kio.Reader
	for _, g := range all {
		if len(selected) == 0 || selected[g.component] {
			out = append(out, g)
		}
	}
	return out
}

// newObject starts an object with apiVersion, kind and metadata; the caller adds the rest.
func newObject(apiVersion, kind, name, namespace string, meta config.ObjectMeta, fields int) mapping {
	md := newMapping(4).str("name", name).str("namespace", namespace).
		stringMap("labels", meta.Labels).stringMap("annotations", meta.Annotations)
	return newMapping(3+fields).str("apiVersion", apiVersion).str("kind", kind).set("metadata", md.n)
}

// --- namespaces ---

func namespaces(m *config.Model, out *objects) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		out.add(newObject("v1", "Namespace", ns.Namespace, "", ns.ObjectMeta, 0).n)
		if q := ns.ResourceQuota; q != nil {
			spec := newMapping(3).stringMap("hard", q.Hard).strings("scopes", q.Scopes)
			if q.ScopeSelector != nil {
				exprs := make([]*yaml.Node, len(q.ScopeSelector.MatchExpressions))
				for j, r := range q.ScopeSelector.MatchExpressions {
					exprs[j] = newMapping(3).str("scopeName", r.ScopeName).str("operator", r.Operator).strings("values", r.Values).n
				}
				spec.set("scopeSelector", newMapping(1).set("matchExpressions", sequence(exprs)).n)
			}
			out.add(newObject("v1", "ResourceQuota", q.Name, ns.Namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n)
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
				limits = append(limits, newMapping(6).str("type", item.typ).
					stringMap("default", item.v.Default).stringMap("defaultRequest", item.v.DefaultRequest).
					stringMap("max", item.v.Max).stringMap("min", item.v.Min).
					stringMap("maxLimitRequestRatio", item.v.MaxLimitRequestRatio).n)
			}
			spec := newMapping(1).set("limits", sequence(limits))
			out.add(newObject("v1", "LimitRange", l.Name, ns.Namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n)
		}
	}
}

// --- RBAC ---

func rbac(m *config.Model, out *objects) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		for j := range ns.Roles {
			out.add(role(&ns.Roles[j]))
		}
		for j := range ns.RoleBindings {
			b := &ns.RoleBindings[j]
			out.add(binding("RoleBinding", b.Name, b.Namespace, b.ObjectMeta, b.RoleRef, b.Subjects))
		}
	}
	for i := range m.Roles {
		out.add(role(&m.Roles[i]))
	}
	for i := range m.RoleBindings {
		b := &m.RoleBindings[i]
		out.add(binding("RoleBinding", b.Name, b.Namespace, b.ObjectMeta, b.RoleRef, b.Subjects))
	}
	for i := range m.ClusterRoles {
		r := &m.ClusterRoles[i]
		obj := newObject(rbacAPIVersion, "ClusterRole", r.Name, "", r.ObjectMeta, 2)
		if r.AggregationRule != nil {
			sels := make([]*yaml.Node, len(r.AggregationRule.ClusterRoleSelectors))
			for j := range r.AggregationRule.ClusterRoleSelectors {
				sels[j] = labelSelector(&r.AggregationRule.ClusterRoleSelectors[j])
			}
			obj.set("aggregationRule", newMapping(1).set("clusterRoleSelectors", sequence(sels)).n)
		}
		obj.set("rules", policyRules(r.Rules))
		out.add(obj.n)
	}
	for i := range m.ClusterRoleBindings {
		b := &m.ClusterRoleBindings[i]
		out.add(binding("ClusterRoleBinding", b.Name, "", b.ObjectMeta, b.RoleRef, b.Subjects))
	}
}

const rbacAPIVersion = "rbac.authorization.k8s.io/v1"

func role(r *config.Role) *yaml.Node {
	return newObject(rbacAPIVersion, "Role", r.Name, r.Namespace, r.ObjectMeta, 1).set("rules", policyRules(r.Rules)).n
}

func policyRules(rules []config.PolicyRule) *yaml.Node {
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		items[i] = newMapping(5).strings("apiGroups", r.APIGroups).strings("resources", r.Resources).
			strings("resourceNames", r.ResourceNames).strings("nonResourceURLs", r.NonResourceURLs).
			strings("verbs", r.Verbs).n
	}
	return sequence(items)
}

func binding(kind, name, namespace string, meta config.ObjectMeta, ref config.RoleRef, subjects []config.Subject) *yaml.Node {
	subs := make([]*yaml.Node, len(subjects))
	for i, s := range subjects {
		subs[i] = newMapping(4).str("kind", s.Kind).str("name", s.Name).str("namespace", s.Namespace).str("apiGroup", s.APIGroup).n
	}
	r := newMapping(3).str("apiGroup", ref.APIGroup).str("kind", ref.Kind).str("name", ref.Name)
	return newObject(rbacAPIVersion, kind, name, namespace, meta, 2).set("roleRef", r.n).set("subjects", sequence(subs)).n
}

// --- Kubernetes network policies ---

func networkPolicies(m *config.Model, out *objects) {
	for i := range m.Namespaces {
		ns := &m.Namespaces[i]
		if ns.DefaultDeny.IsEnabled() {
			out.add(defaultDeny(ns.Namespace, ns.DefaultDeny))
		}
		for j := range ns.NetworkPolicies {
			out.add(networkPolicy(&ns.NetworkPolicies[j]))
		}
	}
	for i := range m.NetworkPolicies {
		out.add(networkPolicy(&m.NetworkPolicies[i]))
	}
}

// defaultDeny denies all ingress and egress of a namespace, optionally keeping DNS open.
func defaultDeny(namespace string, d *config.DefaultDeny) *yaml.Node {
	spec := newMapping(3).set("podSelector", emptyMap()).set("policyTypes", stringList([]string{"Ingress", "Egress"}))
	if d.AllowDNS {
		to := newMapping(2).
			set("namespaceSelector", newMapping(1).set("matchLabels", stringMap(map[string]string{"kubernetes.io/metadata.name": "kube-system"})).n).
			set("podSelector", newMapping(1).set("matchLabels", stringMap(map[string]string{"k8s-app": "kube-dns"})).n)
		ports := sequence([]*yaml.Node{
			newMapping(2).str("protocol", "UDP").set("port", integer(53)).n,
			newMapping(2).str("protocol", "TCP").set("port", integer(53)).n,
		})
		rule := newMapping(2).set("to", sequence([]*yaml.Node{to.n})).set("ports", ports)
		spec.set("egress", sequence([]*yaml.Node{rule.n}))
	}
	return newObject("networking.k8s.io/v1", "NetworkPolicy", d.Name, namespace, config.ObjectMeta{}, 1).set("spec", spec.n).n
}

func networkPolicy(np *config.NetworkPolicy) *yaml.Node {
	sel := emptyMap()
	if np.PodSelector != nil {
		sel = labelSelector(np.PodSelector)
	}
	spec := newMapping(4).set("podSelector", sel).strings("policyTypes", np.PolicyTypes)
	if len(np.Ingress) > 0 {
		spec.set("ingress", npRules(np.Ingress, "from", func(r config.NetworkPolicyRule) []config.NetworkPolicyPeer { return r.From }))
	}
	if len(np.Egress) > 0 {
		spec.set("egress", npRules(np.Egress, "to", func(r config.NetworkPolicyRule) []config.NetworkPolicyPeer { return r.To }))
	}
	return newObject("networking.k8s.io/v1", "NetworkPolicy", np.Name, np.Namespace, np.ObjectMeta, 1).set("spec", spec.n).n
}

func npRules(rules []config.NetworkPolicyRule, peersField string, peersOf func(config.NetworkPolicyRule) []config.NetworkPolicyPeer) *yaml.Node {
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		rule := newMapping(2)
		if peers := peersOf(r); len(peers) > 0 {
			ps := make([]*yaml.Node, len(peers))
			for j, p := range peers {
				pm := newMapping(3)
				if p.IPBlock != nil {
					pm.set("ipBlock", newMapping(2).str("cidr", p.IPBlock.CIDR).strings("except", p.IPBlock.Except).n)
				}
				if p.NamespaceSelector != nil {
					pm.set("namespaceSelector", labelSelector(p.NamespaceSelector))
				}
				if p.PodSelector != nil {
					pm.set("podSelector", labelSelector(p.PodSelector))
				}
				ps[j] = pm.n
			}
			rule.set(peersField, sequence(ps))
		}
		if len(r.Ports) > 0 {
			ports := make([]*yaml.Node, len(r.Ports))
			for j, p := range r.Ports {
				pm := newMapping(3).str("protocol", p.Protocol)
				if p.Port != nil {
					pm.set("port", intOrString(*p.Port))
				}
				if p.EndPort != nil {
					pm.set("endPort", integer(*p.EndPort))
				}
				ports[j] = pm.n
			}
			rule.set("ports", sequence(ports))
		}
		items[i] = rule.n
	}
	return sequence(items)
}

func labelSelector(s *config.LabelSelector) *yaml.Node {
	m := newMapping(2).stringMap("matchLabels", s.MatchLabels)
	if len(s.MatchExpressions) > 0 {
		exprs := make([]*yaml.Node, len(s.MatchExpressions))
		for i, e := range s.MatchExpressions {
			exprs[i] = newMapping(3).str("key", e.Key).str("operator", e.Operator).strings("values", e.Values).n
		}
		m.set("matchExpressions", sequence(exprs))
	}
	return m.n
}

func intOrString(v config.IntOrString) *yaml.Node {
	if v.IsText {
		return str(v.Str)
	}
	return integer(v.Int)
}

// --- Calico ---

const calicoAPIVersion = "projectcalico.org/v3"

func calico(m *config.Model, out *objects) {
	for i := range m.IPPools {
		p := &m.IPPools[i]
		spec := newMapping(9).str("cidr", p.CIDR)
		if p.BlockSize != nil {
			spec.set("blockSize", integer(*p.BlockSize))
		}
		spec.str("ipipMode", p.IPIPMode).str("vxlanMode", p.VXLANMode)
		optBool(spec, "natOutgoing", p.NATOutgoing)
		optBool(spec, "disabled", p.Disabled)
		optBool(spec, "disableBGPExport", p.DisableBGPExport)
		spec.str("nodeSelector", p.NodeSelector).strings("allowedUses", p.AllowedUses)
		out.add(newObject(calicoAPIVersion, "IPPool", p.Name, "", p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.CalicoNetworkPolicies {
		p := &m.CalicoNetworkPolicies[i]
		spec := newMapping(6)
		if p.Order != nil {
			spec.set("order", float(*p.Order))
		}
		spec.str("selector", p.Selector).str("serviceAccountSelector", p.ServiceAccountSelector).strings("types", p.Types)
		calicoRules(spec, "ingress", p.Ingress)
		calicoRules(spec, "egress", p.Egress)
		out.add(newObject(calicoAPIVersion, "NetworkPolicy", p.Name, p.Namespace, p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.CalicoGlobalNetworkPolicies {
		p := &m.CalicoGlobalNetworkPolicies[i]
		spec := newMapping(10)
		if p.Order != nil {
			spec.set("order", float(*p.Order))
		}
		spec.str("selector", p.Selector).str("namespaceSelector", p.NamespaceSelector).
			str("serviceAccountSelector", p.ServiceAccountSelector).strings("types", p.Types)
		calicoRules(spec, "ingress", p.Ingress)
		calicoRules(spec, "egress", p.Egress)
		if p.DoNotTrack {
			spec.set("doNotTrack", boolean(true))
		}
		if p.PreDNAT {
			spec.set("preDNAT", boolean(true))
		}
		if p.ApplyOnForward {
			spec.set("applyOnForward", boolean(true))
		}
		out.add(newObject(calicoAPIVersion, "GlobalNetworkPolicy", p.Name, "", p.ObjectMeta, 1).set("spec", spec.n).n)
	}
	for i := range m.BGPConfigurations {
		b := &m.BGPConfigurations[i]
		spec := newMapping(7).str("logSeverityScreen", b.LogSeverityScreen)
		optBool(spec, "nodeToNodeMeshEnabled", b.NodeToNodeMeshEnabled)
		if b.ASNumber != nil {
			spec.set("asNumber", integer(*b.ASNumber))
		}
		if b.ListenPort != nil {
			spec.set("listenPort", integer(*b.ListenPort))
		}
		cidrRefs(spec, "serviceClusterIPs", b.ServiceClusterIPs)
		cidrRefs(spec, "serviceExternalIPs", b.ServiceExternalIPs)
		cidrRefs(spec, "serviceLoadBalancerIPs", b.ServiceLoadBalancerIPs)
		out.add(newObject(calicoAPIVersion, "BGPConfiguration", b.Name, "", b.ObjectMeta, 1).set("spec", spec.n).n)
	}
}

func optBool(m mapping, key string, v *bool) {
	if v != nil {
		m.set(key, boolean(*v))
	}
}

func cidrRefs(m mapping, key string, refs []config.CalicoCIDRRef) {
	if len(refs) == 0 {
		return
	}
	items := make([]*yaml.Node, len(refs))
	for i, r := range refs {
		items[i] = newMapping(1).str("cidr", r.CIDR).n
	}
	m.set(key, sequence(items))
}

func calicoRules(spec mapping, key string, rules []config.CalicoRule) {
	if len(rules) == 0 {
		return
	}
	items := make([]*yaml.Node, len(rules))
	for i, r := range rules {
		rm := newMapping(7).str("action", r.Action)
		if r.Protocol != nil {
			rm.set("protocol", intOrString(*r.Protocol))
		}
		if r.NotProtocol != nil {
			rm.set("notProtocol", intOrString(*r.NotProtocol))
		}
		if r.IPVersion != nil {
			rm.set("ipVersion", integer(*r.IPVersion))
		}
		if r.ICMP != nil {
			im := newMapping(2)
			if r.ICMP.Type != nil {
				im.set("type", integer(*r.ICMP.Type))
			}
			if r.ICMP.Code != nil {
				im.set("code", integer(*r.ICMP.Code))
			}
			rm.set("icmp", im.n)
		}
		rm.node("source", entityRule(&r.Source))
		rm.node("destination", entityRule(&r.Destination))
		items[i] = rm.n
	}
	spec.set(key, sequence(items))
}

func entityRule(e *config.CalicoEntityRule) *yaml.Node {
	m := newMapping(8).strings("nets", e.Nets).strings("notNets", e.NotNets).
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
			items[i] = intOrString(p)
		}
		m.set(ports.key, sequence(items))
	}
	if sa := e.ServiceAccounts; sa != nil {
		m.set("serviceAccounts", newMapping(2).strings("names", sa.Names).str("selector", sa.Selector).n)
	}
	if len(m.n.Content) == 0 {
		return nil
	}
	return m.n
}

// --- add-ons ---

func addons(m *config.Model, out *objects) {
	for i := range m.Addons {
		a := &m.Addons[i]
		source := newMapping(4)
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
		if len(a.Values) > 0 {
			source.set("helm", newMapping(1).set("valuesObject", config.ToNode(a.Values)).n)
		}
		dest := newMapping(2).str("name", a.Destination.Name).str("server", a.Destination.Server).str("namespace", a.Namespace)
		spec := newMapping(4).str("project", a.Project).set("source", source.n).set("destination", dest.n)
		if sp := a.SyncPolicy; sp != nil {
			pm := newMapping(2)
			if sp.Automated != nil {
				am := newMapping(2)
				if sp.Automated.Prune {
					am.set("prune", boolean(true))
				}
				if sp.Automated.SelfHeal {
					am.set("selfHeal", boolean(true))
				}
				pm.set("automated", am.n)
			}
			pm.strings("syncOptions", sp.SyncOptions)
			spec.set("syncPolicy", pm.n)
		}
		name := m.Cluster.Name + "-" + a.Name
		out.add(newObject("argoproj.io/v1alpha1", "Application", name, m.Settings.ArgoCDNamespace, a.ObjectMeta, 1).set("spec", spec.n).n)
	}
}

// --- extra manifests ---

func manifests(m *config.Model, out *objects) {
	for _, obj := range m.Manifests {
		out.add(headFirst(config.ToNode(obj), "apiVersion", "kind", "metadata"))
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
		if !contains(keys, n.Content[i].Value) {
			head = append(head, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = head
	return n
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
