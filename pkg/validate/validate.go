package validate

import (
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// checker validates one entry and applies its defaults; problems are attributed to the layer
// that set the offending value.
type checker struct {
	r *resolver
	e *config.Entry
}

func (c checker) fail(p config.Path, format string, args ...any) {
	c.r.problem(c.e, p, format, args...)
}

// claimObject records that the entry renders an object; a second claim is a duplicate.
func (c checker) claimObject(kind, namespace, name string, p config.Path) {
	if name == "" {
		return
	}
	id := config.ObjectKey{Kind: kind, Namespace: namespace, Name: name}
	if c.r.claims == nil {
		c.r.claims = make(map[config.ObjectKey]config.Claim, 8*len(c.r.merged.Entries))
	}
	if prev, dup := c.r.claims[id]; dup {
		where := config.EntryPath(prev.Entry.Kind, prev.Entry.Key)
		if s := prev.Path.String(); s != "" {
			where += "." + s
		}
		c.fail(p, "renders %s, which %s already renders", id, where)
		return
	}
	c.r.claims[id] = config.Claim{Entry: c.e, Path: p}
}

// --- cluster and settings ---

func (r *resolver) checkCluster(e *config.Entry, cl *config.Cluster) {
	c := checker{r: r, e: e}
	if cl.Environment == "" {
		c.fail(config.Path{}.Child("environment"), "is required: the environment layer (env/<environment>) this cluster merges")
	} else {
		c.dnsLabel(nil, "environment", cl.Environment)
	}
	if cl.Region == "" {
		c.fail(config.Path{}.Child("region"), "is required")
	} else {
		c.dnsLabel(nil, "region", cl.Region)
	}
	c.labels(nil, "labels", cl.Labels)
	// Projects name Argo CD AppProjects (Kubernetes objects): DNS-1123 subdomains.
	first := make(map[string]int, len(cl.Projects))
	for i, p := range cl.Projects {
		at := config.Path{}.Child("projects").Index(i)
		switch j, seen := first[p]; {
		case p == "":
			c.fail(at, "must not be empty")
		case seen:
			c.fail(at, "%s is listed twice (also projects[%d])", msgfmt.QuoteShort(p), j)
		case !validDNSSubdomain(p):
			c.fail(at, "%s is not a valid Argo CD project name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)", msgfmt.QuoteShort(p))
		}
		if _, seen := first[p]; !seen {
			first[p] = i
		}
	}
	c.varNames(config.Path{}.Child("vars"), cl.Vars)
}

func (r *resolver) checkSettings(m *config.Model) {
	for i := range r.merged.Entries {
		e := &r.merged.Entries[i]
		if e.Kind != config.KindSettings {
			continue
		}
		c := checker{r: r, e: e}
		c.labels(nil, "commonLabels", m.Settings.CommonLabels)
		c.annotations(nil, "commonAnnotations", m.Settings.CommonAnnotations)
		if m.Settings.ArgoCDNamespace != "" {
			c.dnsLabel(nil, "argocdNamespace", m.Settings.ArgoCDNamespace)
		}
		c.varNames(config.Path{}.Child("vars"), m.Settings.Vars)
	}
	if m.Settings.ArgoCDNamespace == "" {
		m.Settings.ArgoCDNamespace = config.DefaultArgoCDNamespace
	}
}

func (c checker) varNames(p config.Path, vars map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !isIdentifier(k) {
			c.fail(p.Child(k), "%q is not a valid variable name (letters, digits and _, not starting with a digit)", k)
		}
	}
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// --- namespaces ---

func (c checker) namespace(ns *config.Namespace, env string) {
	c.dnsLabel(nil, "namespace", ns.Namespace)
	c.claimObject("Namespace", "", ns.Namespace, nil)
	c.labels(nil, "labels", ns.Labels)
	c.annotations(nil, "annotations", ns.Annotations)
	// A name derived from the environment is valid when the environment is; an invalid one
	// is reported once, at the cluster record.
	if q := ns.ResourceQuota; q != nil {
		p := config.Path{}.Child("resourceQuota")
		if q.Name == "" {
			q.Name = env + quotaNameSuffix
		} else {
			c.dnsSubdomain(p, "name", q.Name)
		}
		c.claimObject("ResourceQuota", ns.Namespace, q.Name, p)
		c.resourceQuota(p, q)
	}
	if l := ns.LimitRange; l != nil {
		p := config.Path{}.Child("limitRange")
		if l.Name == "" {
			l.Name = env + limitRangeNameSuffix
		} else {
			c.dnsSubdomain(p, "name", l.Name)
		}
		c.claimObject("LimitRange", ns.Namespace, l.Name, p)
		c.limitRange(p, l)
	}
	if d := ns.DefaultDeny; d != nil {
		if d.Name == "" {
			d.Name = config.DefaultDenyPolicyName
		}
		if d.IsEnabled() {
			c.dnsSubdomain(config.Path{}.Child("defaultDeny"), "name", d.Name)
			c.claimObject("NetworkPolicy", ns.Namespace, d.Name, config.Path{}.Child("defaultDeny"))
		}
	}
	for i := range ns.Roles {
		c.role(&ns.Roles[i], &nested{ns: ns.Namespace, path: config.Path{}.Child("roles").Keyed(ns.Roles[i].Name), index: i})
	}
	for i := range ns.RoleBindings {
		c.roleBinding(&ns.RoleBindings[i], &nested{ns: ns.Namespace, path: config.Path{}.Child("roleBindings").Keyed(ns.RoleBindings[i].Name)})
	}
	for i := range ns.NetworkPolicies {
		c.networkPolicy(&ns.NetworkPolicies[i], &nested{ns: ns.Namespace, path: config.Path{}.Child("networkPolicies").Keyed(ns.NetworkPolicies[i].Name)})
	}
}

// nested describes an object declared inside a namespace entry.
type nested struct {
	ns    string
	path  config.Path
	index int
}

// objectNamespace applies a nested object's namespace default and checks a top-level one.
func (c checker) objectNamespace(p config.Path, ns *string, in *nested) {
	if in != nil {
		if *ns != "" && *ns != in.ns {
			c.fail(p.Child("namespace"), "%q differs from the namespace %q it is declared in (leave it out)", *ns, in.ns)
		}
		*ns = in.ns
		return
	}
	c.dnsLabel(p, "namespace", *ns)
}

func (n *nested) base() config.Path {
	if n == nil {
		return config.Path{}
	}
	return n.path
}

// --- RBAC ---

func (c checker) role(r *config.Role, in *nested) {
	p := in.base()
	c.objectNamespace(p, &r.Namespace, in)
	c.rbacName(p, "name", r.Name)
	c.claimObject("Role", r.Namespace, r.Name, p)
	c.meta(p, "", r.ObjectMeta)
	if len(r.Rules) == 0 {
		c.fail(p.Child("rules"), "a role needs at least one rule")
	}
	c.rules(p.Child("rules"), r.Rules, true)
}

func (c checker) clusterRole(r *config.ClusterRole) {
	c.rbacName(nil, "name", r.Name)
	c.claimObject("ClusterRole", "", r.Name, nil)
	c.meta(nil, "", r.ObjectMeta)
	if len(r.Rules) == 0 && r.AggregationRule == nil {
		c.fail(config.Path{}.Child("rules"), "a cluster role needs rules or an aggregationRule")
	}
	c.rules(config.Path{}.Child("rules"), r.Rules, false)
	if r.AggregationRule != nil {
		if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			c.fail(config.Path{}.Child("aggregationRule").Child("clusterRoleSelectors"), "needs at least one selector")
		}
		for i, s := range r.AggregationRule.ClusterRoleSelectors {
			c.selector(config.Path{}.Child("aggregationRule").Child("clusterRoleSelectors").Index(i), &s)
		}
	}
}

var rbacVerbs = map[string]bool{
	"get": true, "list": true, "watch": true, "create": true, "update": true, "patch": true,
	"delete": true, "deletecollection": true, "impersonate": true, "bind": true, "escalate": true,
	"use": true, "approve": true, "sign": true, "attest": true, "*": true,
}

func (c checker) rules(p config.Path, rules []config.PolicyRule, namespaced bool) {
	for i, rule := range rules {
		rp := p.Index(i)
		if len(rule.Verbs) == 0 {
			c.fail(rp.Child("verbs"), "at least one verb is required")
		}
		for j, v := range rule.Verbs {
			if !rbacVerbs[v] {
				c.fail(rp.Child("verbs").Index(j), "%q is not an RBAC verb (%s)", v, keysOf(rbacVerbs))
			}
		}
		switch {
		case len(rule.NonResourceURLs) > 0 && namespaced:
			c.fail(rp.Child("nonResourceURLs"), "only cluster roles may grant nonResourceURLs")
		case len(rule.NonResourceURLs) > 0 && (len(rule.Resources) > 0 || len(rule.APIGroups) > 0 || len(rule.ResourceNames) > 0):
			c.fail(rp, "a rule grants either resources (apiGroups, resources, resourceNames) or nonResourceURLs, not both")
		case len(rule.NonResourceURLs) == 0 && len(rule.Resources) == 0:
			c.fail(rp.Child("resources"), "at least one resource is required (or nonResourceURLs in a cluster role)")
		case len(rule.Resources) > 0 && len(rule.APIGroups) == 0:
			c.fail(rp.Child("apiGroups"), "is required with resources (\"\" is the core group)")
		}
		for j, u := range rule.NonResourceURLs {
			if !strings.HasPrefix(u, "/") && u != "*" {
				c.fail(rp.Child("nonResourceURLs").Index(j), "%q must start with /", u)
			}
		}
	}
}

func (c checker) roleBinding(b *config.RoleBinding, in *nested) {
	p := in.base()
	c.objectNamespace(p, &b.Namespace, in)
	c.rbacName(p, "name", b.Name)
	c.claimObject("RoleBinding", b.Namespace, b.Name, p)
	c.meta(p, "", b.ObjectMeta)
	c.roleRef(p.Child("roleRef"), &b.RoleRef, "Role", "ClusterRole")
	c.subjects(p.Child("subjects"), b.Subjects, b.Namespace)
}

func (c checker) clusterRoleBinding(b *config.ClusterRoleBinding) {
	c.rbacName(nil, "name", b.Name)
	c.claimObject("ClusterRoleBinding", "", b.Name, nil)
	c.meta(nil, "", b.ObjectMeta)
	c.roleRef(config.Path{}.Child("roleRef"), &b.RoleRef, "ClusterRole")
	c.subjects(config.Path{}.Child("subjects"), b.Subjects, "")
}

func (c checker) roleRef(p config.Path, ref *config.RoleRef, kinds ...string) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacAPIGroup
	}
	if !slices.Contains(kinds, ref.Kind) {
		c.fail(p.Child("kind"), "%q is not allowed here (%s)", ref.Kind, strings.Join(kinds, " or "))
	}
	if ref.APIGroup != rbacAPIGroup {
		c.fail(p.Child("apiGroup"), "%q must be %s", ref.APIGroup, rbacAPIGroup)
	}
	if ref.Name == "" {
		c.fail(p.Child("name"), "is required")
	} else {
		c.rbacName(p, "name", ref.Name)
	}
}

func (c checker) subjects(p config.Path, subjects []config.Subject, namespace string) {
	if len(subjects) == 0 {
		c.fail(p, "at least one subject is required")
	}
	for i := range subjects {
		s := &subjects[i]
		sp := p.Index(i)
		if s.Name != "" {
			sp = p.Keyed(s.Name)
		}
		if s.Name == "" {
			c.fail(sp.Child("name"), "is required")
		}
		switch s.Kind {
		case "ServiceAccount":
			if s.Namespace == "" {
				s.Namespace = namespace
			}
			if s.Namespace == "" {
				c.fail(sp.Child("namespace"), "is required for a service account in a cluster role binding")
			} else {
				c.dnsLabel(sp, "namespace", s.Namespace)
			}
			if s.APIGroup != "" {
				c.fail(sp.Child("apiGroup"), "must be empty for a service account")
			}
			if s.Name != "" {
				c.dnsSubdomain(sp, "name", s.Name)
			}
		case "User", "Group":
			if s.APIGroup == "" {
				s.APIGroup = rbacAPIGroup
			}
			if s.APIGroup != rbacAPIGroup {
				c.fail(sp.Child("apiGroup"), "%q must be %s", s.APIGroup, rbacAPIGroup)
			}
			if s.Namespace != "" {
				c.fail(sp.Child("namespace"), "only service accounts have a namespace")
			}
		default:
			c.fail(sp.Child("kind"), "%q is not a subject kind (User, Group or ServiceAccount)", s.Kind)
		}
	}
}

func (c checker) rbacName(p config.Path, field, name string) {
	if name == "" {
		c.fail(p.LazyChild(field), "is required")
		return
	}
	if msgs := content.IsPathSegmentName(name); len(msgs) > 0 || !msgfmt.Printable(name) || len(name) > 253 {
		c.fail(p.LazyChild(field), "%s is not a valid name", msgfmt.QuoteShort(name))
	}
}

// --- Kubernetes network policies ---

func (c checker) networkPolicy(np *config.NetworkPolicy, in *nested) {
	p := in.base()
	c.objectNamespace(p, &np.Namespace, in)
	c.dnsSubdomain(p, "name", np.Name)
	c.claimObject("NetworkPolicy", np.Namespace, np.Name, p)
	c.meta(p, "", np.ObjectMeta)
	if np.PodSelector != nil {
		c.selector(p.Child("podSelector"), np.PodSelector)
	}
	if len(np.PolicyTypes) > 2 {
		c.fail(p.Child("policyTypes"), "at most two policy types (Ingress and Egress)")
	}
	for i, t := range np.PolicyTypes {
		if t != "Ingress" && t != "Egress" {
			c.fail(p.Child("policyTypes").Index(i), "%q is not a policy type (Ingress or Egress)", t)
		}
	}
	for i, rule := range np.Ingress {
		rp := p.Child("ingress").Index(i)
		if len(rule.To) > 0 {
			c.fail(rp.Child("to"), "ingress rules take \"from\", not \"to\"")
		}
		c.peers(rp.Child("from"), rule.From)
		c.ports(rp.Child("ports"), rule.Ports)
	}
	for i, rule := range np.Egress {
		rp := p.Child("egress").Index(i)
		if len(rule.From) > 0 {
			c.fail(rp.Child("from"), "egress rules take \"to\", not \"from\"")
		}
		c.peers(rp.Child("to"), rule.To)
		c.ports(rp.Child("ports"), rule.Ports)
	}
}

func (c checker) peers(p config.Path, peers []config.NetworkPolicyPeer) {
	for i, peer := range peers {
		pp := p.Index(i)
		if peer.IPBlock != nil {
			if peer.PodSelector != nil || peer.NamespaceSelector != nil {
				c.fail(pp, "ipBlock cannot be combined with podSelector or namespaceSelector")
			}
			cidr, ok := c.cidr(pp.Child("ipBlock"), "cidr", peer.IPBlock.CIDR)
			for j, ex := range peer.IPBlock.Except {
				ep := pp.Child("ipBlock").Child("except").Index(j)
				exc, exOK := c.cidr(ep, "", ex)
				if ok && exOK && (!cidr.Contains(exc.Addr()) || exc.Bits() <= cidr.Bits()) {
					c.fail(ep, "%s is not strictly inside %s", ex, peer.IPBlock.CIDR)
				}
			}
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			c.fail(pp, "needs podSelector, namespaceSelector or ipBlock")
		}
		if peer.PodSelector != nil {
			c.selector(pp.Child("podSelector"), peer.PodSelector)
		}
		if peer.NamespaceSelector != nil {
			c.selector(pp.Child("namespaceSelector"), peer.NamespaceSelector)
		}
	}
}

var networkProtocols = map[string]bool{"TCP": true, "UDP": true, "SCTP": true}

func (c checker) ports(p config.Path, ports []config.NetworkPolicyPort) {
	for i, port := range ports {
		pp := p.Index(i)
		if port.Protocol != "" && !networkProtocols[port.Protocol] {
			c.fail(pp.Child("protocol"), "%q is not a protocol (TCP, UDP or SCTP)", port.Protocol)
		}
		if port.Port != nil {
			if port.Port.IsText {
				if msgs := validation.IsValidPortName(port.Port.Str); len(msgs) > 0 {
					c.fail(pp.Child("port"), "%s is not a port number or name: %s", msgfmt.QuoteShort(port.Port.Str), strings.Join(msgs, "; "))
				}
			} else if port.Port.Int < 1 || port.Port.Int > 65535 {
				c.fail(pp.Child("port"), "%d is outside the port range 1-65535", port.Port.Int)
			}
		}
		if port.EndPort != nil {
			switch {
			case port.Port == nil || port.Port.IsText:
				c.fail(pp.Child("endPort"), "needs a numeric port")
			case *port.EndPort > 65535:
				c.fail(pp.Child("endPort"), "%d is outside the port range 1-65535", *port.EndPort)
			case *port.EndPort < port.Port.Int:
				c.fail(pp.Child("endPort"), "%d is below port %d", *port.EndPort, port.Port.Int)
			}
		}
	}
}

func (c checker) selector(p config.Path, s *config.LabelSelector) {
	c.labels(p, "matchLabels", s.MatchLabels)
	for i, r := range s.MatchExpressions {
		rp := p.Child("matchExpressions").Index(i)
		if msgs := validation.IsQualifiedName(r.Key); len(msgs) > 0 {
			c.fail(rp.Child("key"), "%s is not a valid label key: %s", msgfmt.QuoteShort(r.Key), strings.Join(msgs, "; "))
		}
		c.selectorOperator(rp, r.Operator, r.Values)
		for j, v := range r.Values {
			if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
				c.fail(rp.Child("values").Index(j), "%s is not a valid label value: %s", msgfmt.QuoteShort(v), strings.Join(msgs, "; "))
			}
		}
	}
}

func (c checker) selectorOperator(p config.Path, op string, values []string) {
	switch op {
	case "In", "NotIn":
		if len(values) == 0 {
			c.fail(p.Child("values"), "operator %s needs values", op)
		}
	case "Exists", "DoesNotExist":
		if len(values) > 0 {
			c.fail(p.Child("values"), "operator %s takes no values", op)
		}
	default:
		c.fail(p.Child("operator"), "%q is not an operator (In, NotIn, Exists, DoesNotExist)", op)
	}
}

// --- Calico ---

var (
	encapModes     = map[string]bool{"Never": true, "Always": true, "CrossSubnet": true}
	poolUses       = map[string]bool{"Workload": true, "Tunnel": true, "LoadBalancer": true}
	calicoActions  = map[string]bool{"Allow": true, "Deny": true, "Log": true, "Pass": true}
	calicoProtos   = map[string]bool{"TCP": true, "UDP": true, "ICMP": true, "ICMPv6": true, "SCTP": true, "UDPLite": true}
	portProtos     = map[string]bool{"TCP": true, "UDP": true, "SCTP": true, "UDPLite": true, "6": true, "17": true, "132": true, "136": true}
	policyTypes    = map[string]bool{"Ingress": true, "Egress": true}
	logSeverities  = map[string]bool{"Debug": true, "Info": true, "Warning": true, "Error": true, "Fatal": true}
	jsonPatchOps   = map[string]bool{"add": true, "remove": true, "replace": true, "move": true, "copy": true, "test": true}
	forbiddenKinds = map[string]string{
		"Secret": "Argo CD caches generated manifests in plain text (in Redis and on the repo-server), so secrets do not belong in this table: keep them in a secrets operator (External Secrets, Sealed Secrets ...) and reference them",
	}
)

func (c checker) ipPool(pool *config.IPPool) {
	c.dnsSubdomain(nil, "name", pool.Name)
	c.claimObject("IPPool", "", pool.Name, nil)
	c.meta(nil, "", pool.ObjectMeta)
	if pool.CIDR == "" {
		c.fail(config.Path{}.Child("cidr"), "is required")
	}
	prefix, ok := c.cidr(nil, "cidr", pool.CIDR)
	if pool.BlockSize != nil && ok {
		lo, hi := int64(20), int64(32)
		if prefix.Addr().Is6() {
			lo, hi = 116, 128
		}
		switch {
		case *pool.BlockSize < lo || *pool.BlockSize > hi:
			c.fail(config.Path{}.Child("blockSize"), "%d is outside %d-%d for an IPv%d pool", *pool.BlockSize, lo, hi, ipVersion(prefix))
		case *pool.BlockSize < int64(prefix.Bits()):
			c.fail(config.Path{}.Child("blockSize"), "%d is larger than the pool %s itself", *pool.BlockSize, pool.CIDR)
		}
	}
	c.enum(nil, "ipipMode", pool.IPIPMode, encapModes)
	c.enum(nil, "vxlanMode", pool.VXLANMode, encapModes)
	if on(pool.IPIPMode) && on(pool.VXLANMode) {
		c.fail(config.Path{}.Child("vxlanMode"), "IPIP and VXLAN cannot both be enabled on one pool (ipipMode is %s)", pool.IPIPMode)
	}
	if ok && prefix.Addr().Is6() && on(pool.IPIPMode) {
		c.fail(config.Path{}.Child("ipipMode"), "IPIP is not supported for IPv6 pools")
	}
	for i, u := range pool.AllowedUses {
		c.enum(config.Path{}.Child("allowedUses").Index(i), "", u, poolUses)
	}
}

func on(mode string) bool { return mode == "Always" || mode == "CrossSubnet" }

func ipVersion(p netip.Prefix) int {
	if p.Addr().Is6() {
		return 6
	}
	return 4
}

func (r *resolver) checkOverlappingPools(m *config.Model) {
	type pool struct {
		name   string
		prefix netip.Prefix
	}
	var pools []pool
	for _, p := range m.IPPools {
		if pr, err := netip.ParsePrefix(p.CIDR); err == nil {
			pools = append(pools, pool{p.Name, pr})
		}
	}
	sort.Slice(pools, func(i, j int) bool { return pools[i].name < pools[j].name })
	for i := range pools {
		for j := i + 1; j < len(pools); j++ {
			if pools[i].prefix.Overlaps(pools[j].prefix) {
				e := &config.Entry{Kind: config.KindCalicoIPPool, Key: pools[j].name}
				r.problem(e, config.Path{}.Child("cidr"), "%s overlaps IP pool %s (%s)", pools[j].prefix, pools[i].name, pools[i].prefix)
			}
		}
	}
}

func (c checker) calicoNetworkPolicy(np *config.CalicoNetworkPolicy) {
	c.dnsLabel(nil, "namespace", np.Namespace)
	c.dnsSubdomain(nil, "name", np.Name)
	c.claimObject("projectcalico.org/NetworkPolicy", np.Namespace, np.Name, nil)
	c.meta(nil, "", np.ObjectMeta)
	c.calicoPolicy(np.Types, np.Ingress, np.Egress)
}

func (c checker) calicoGlobalNetworkPolicy(np *config.CalicoGlobalNetworkPolicy) {
	c.dnsSubdomain(nil, "name", np.Name)
	c.claimObject("GlobalNetworkPolicy", "", np.Name, nil)
	c.meta(nil, "", np.ObjectMeta)
	c.calicoPolicy(np.Types, np.Ingress, np.Egress)
	if np.DoNotTrack && np.PreDNAT {
		c.fail(config.Path{}.Child("preDNAT"), "preDNAT and doNotTrack cannot both be set")
	}
	if (np.DoNotTrack || np.PreDNAT) && !np.ApplyOnForward {
		c.fail(config.Path{}.Child("applyOnForward"), "must be true when doNotTrack or preDNAT is set")
	}
}

func (c checker) calicoPolicy(types []string, ingress, egress []config.CalicoRule) {
	for i, t := range types {
		c.enum(config.Path{}.Child("types").Index(i), "", t, policyTypes)
	}
	for i := range ingress {
		c.calicoRule(config.Path{}.Child("ingress").Index(i), &ingress[i])
	}
	for i := range egress {
		c.calicoRule(config.Path{}.Child("egress").Index(i), &egress[i])
	}
}

func (c checker) calicoRule(p config.Path, rule *config.CalicoRule) {
	if rule.Action == "" {
		c.fail(p.Child("action"), "is required (%s)", keysOf(calicoActions))
	} else {
		c.enum(p, "action", rule.Action, calicoActions)
	}
	proto := ""
	for _, pr := range []struct {
		field string
		v     *config.IntOrString
	}{{"protocol", rule.Protocol}, {"notProtocol", rule.NotProtocol}} {
		if pr.v == nil {
			continue
		}
		if pr.v.IsText {
			c.enum(p, pr.field, pr.v.Str, calicoProtos)
			if pr.field == "protocol" {
				proto = pr.v.Str
			}
		} else {
			if pr.v.Int < 1 || pr.v.Int > 255 {
				c.fail(p.Child(pr.field), "%d is outside the protocol numbers 1-255", pr.v.Int)
			}
			if pr.field == "protocol" {
				proto = strconv.FormatInt(pr.v.Int, 10)
			}
		}
	}
	if rule.IPVersion != nil && *rule.IPVersion != 4 && *rule.IPVersion != 6 {
		c.fail(p.Child("ipVersion"), "%d is not 4 or 6", *rule.IPVersion)
	}
	if rule.ICMP != nil && proto != "ICMP" && proto != "ICMPv6" {
		c.fail(p.Child("icmp"), "needs protocol ICMP or ICMPv6")
	}
	for _, side := range []struct {
		field string
		e     *config.CalicoEntityRule
	}{{"source", &rule.Source}, {"destination", &rule.Destination}} {
		sp := p.Child(side.field)
		for i, n := range side.e.Nets {
			c.cidr(sp.Child("nets").Index(i), "", n)
		}
		for i, n := range side.e.NotNets {
			c.cidr(sp.Child("notNets").Index(i), "", n)
		}
		if len(side.e.Ports)+len(side.e.NotPorts) > 0 && !portProtos[proto] {
			c.fail(sp.Child("ports"), "ports need protocol TCP, UDP, SCTP or UDPLite")
		}
		for i, port := range side.e.Ports {
			c.calicoPort(sp.Child("ports").Index(i), "", port)
		}
		for i, port := range side.e.NotPorts {
			c.calicoPort(sp.Child("notPorts").Index(i), "", port)
		}
	}
}

// calicoPort accepts a port number, a range "from:to" or a named port.
func (c checker) calicoPort(p config.Path, field string, port config.IntOrString) {
	if !port.IsText {
		if port.Int < 0 || port.Int > 65535 {
			c.fail(p.LazyChild(field), "%d is outside the port range 0-65535", port.Int)
		}
		return
	}
	if lo, hi, ok := strings.Cut(port.Str, ":"); ok {
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || l < 0 || h > 65535 || l > h {
			c.fail(p.LazyChild(field), "%s is not a port range such as 8000:8080", msgfmt.QuoteShort(port.Str))
		}
		return
	}
	if msgs := validation.IsValidPortName(port.Str); len(msgs) > 0 {
		c.fail(p.LazyChild(field), "%s is not a port number, range or name", msgfmt.QuoteShort(port.Str))
	}
}

func (c checker) bgpConfiguration(b *config.BGPConfiguration) {
	c.dnsSubdomain(nil, "name", b.Name)
	c.claimObject("BGPConfiguration", "", b.Name, nil)
	c.meta(nil, "", b.ObjectMeta)
	c.enum(nil, "logSeverityScreen", b.LogSeverityScreen, logSeverities)
	if b.ASNumber != nil && (*b.ASNumber < 1 || *b.ASNumber > 4294967295) {
		c.fail(config.Path{}.Child("asNumber"), "%d is not an AS number (1-4294967295)", *b.ASNumber)
	}
	if b.ListenPort != nil && (*b.ListenPort < 1 || *b.ListenPort > 65535) {
		c.fail(config.Path{}.Child("listenPort"), "%d is outside the port range 1-65535", *b.ListenPort)
	}
	for _, l := range []struct {
		field string
		refs  []config.CalicoCIDRRef
	}{{"serviceClusterIPs", b.ServiceClusterIPs}, {"serviceExternalIPs", b.ServiceExternalIPs}, {"serviceLoadBalancerIPs", b.ServiceLoadBalancerIPs}} {
		for i, r := range l.refs {
			c.cidr(config.Path{}.Child(l.field).Index(i), "cidr", r.CIDR)
		}
	}
}

// --- add-ons, manifests, patches ---

func (c checker) addon(a *config.Addon, m *config.Model) {
	c.dnsLabel(nil, "name", a.Name)
	c.meta(nil, "", a.ObjectMeta)
	if !a.IsEnabled() {
		return
	}
	if a.Project == "" {
		a.Project = config.DefaultAddonProject
	}
	if a.Destination == nil || (a.Destination.Name == "" && a.Destination.Server == "") {
		a.Destination = &config.AddonDestination{Name: m.Cluster.Name}
	}
	if a.Destination.Name != "" && a.Destination.Server != "" {
		c.fail(config.Path{}.Child("destination"), "give either name or server, not both")
	}
	appName := config.AddonApplicationName(m.Cluster.Name, a.Name)
	if msgs := validation.IsDNS1123Subdomain(appName); len(msgs) > 0 {
		c.fail(config.Path{}.Child("name"), "the Application name %q is not valid: %s", appName, strings.Join(msgs, "; "))
	}
	c.claimObject("Application", m.Settings.ArgoCDNamespace, appName, nil)
	c.dnsLabel(nil, "namespace", a.Namespace)
	switch {
	case a.Chart != nil && a.Git != nil:
		c.fail(config.Path{}.Child("chart"), "an add-on comes from a chart or from git, not both")
	case a.Chart != nil:
		cp := config.Path{}.Child("chart")
		c.required(cp, "repoURL", a.Chart.RepoURL)
		c.required(cp, "chart", a.Chart.Chart)
		c.required(cp, "version", a.Chart.Version)
	case a.Git != nil:
		gp := config.Path{}.Child("git")
		c.required(gp, "repoURL", a.Git.RepoURL)
		c.required(gp, "path", a.Git.Path)
	default:
		c.fail(config.Path{}.Child("chart"), "an add-on needs a chart {repoURL, chart, version} or git {repoURL, path}")
	}
	if a.Project != "" {
		c.dnsSubdomain(nil, "project", a.Project)
	}
}

func (c checker) manifest(obj map[string]any) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if apiVersion == "" {
		c.fail(config.Path{}.Child("apiVersion"), "is required")
	}
	if kind == "" {
		c.fail(config.Path{}.Child("kind"), "is required")
	}
	if why, forbidden := forbiddenKinds[kind]; forbidden && (apiVersion == "v1" || apiVersion == "") {
		c.fail(config.Path{}.Child("kind"), "%s objects are refused: %s", kind, why)
		return
	}
	if strings.HasSuffix(kind, "List") {
		c.fail(config.Path{}.Child("kind"), "%s: write the items as separate manifests", kind)
	}
	mp := config.Path{}.Child("metadata")
	if name == "" {
		c.fail(mp.Child("name"), "is required")
	} else {
		c.dnsSubdomain(mp, "name", name)
	}
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group = ""
	}
	ann, _ := md["annotations"].(map[string]any)
	declared, _ := ann[ClusterScopedAnnotation].(string)
	switch {
	case ns != "" && (isClusterScoped(group, kind) || declared == "true"):
		c.fail(mp.Child("namespace"), "%s is cluster-scoped: leave the namespace out", kind)
	case ns != "":
		c.dnsLabel(mp, "namespace", ns)
	case kind == "" || apiVersion == "" || isClusterScoped(group, kind) || declared == "true":
	case builtinGroup(group):
		c.fail(mp.Child("namespace"), "is required: %s is namespaced, and Argo CD would otherwise put it in the Application's destination namespace", kind)
	default:
		c.fail(mp.Child("namespace"), "is required: %s is not a kind known to be cluster-scoped, and Argo CD would put a namespaced object in the Application's destination namespace (if %s is cluster-scoped, annotate it %s: \"true\")", groupKind(group, kind), kind, ClusterScopedAnnotation)
	}
	if md != nil {
		var meta config.ObjectMeta
		d := config.Decoder{Path: append(config.Path(nil), mp...)}
		for _, f := range []string{"labels", "annotations"} {
			if v, ok := md[f]; ok {
				d.Decode(map[string]any{f: v}, config.ReflectValue(&meta))
			}
		}
		for _, p := range d.Problems {
			c.fail(p.Path, "%s", p.Msg)
		}
		c.meta(mp, "", meta)
	}
	c.claimObject(config.QualifiedKind(group, kind), ns, name, nil)
}

func (c checker) patch(pt *config.Patch) {
	c.dnsSubdomain(nil, "name", pt.Name)
	if pt.Target.Kind == "" {
		c.fail(config.Path{}.Child("target").Child("kind"), "is required")
	}
	switch {
	case pt.StrategicMerge != nil && pt.JSON6902 != nil:
		c.fail(config.Path{}.Child("strategicMerge"), "a patch is either strategicMerge or json6902, not both")
	case pt.StrategicMerge == nil && pt.JSON6902 == nil:
		c.fail(config.Path{}.Child("strategicMerge"), "a patch needs strategicMerge (a partial object) or json6902 (operations)")
	}
	for i, op := range pt.JSON6902 {
		p := config.Path{}.Child("json6902").Index(i)
		if !jsonPatchOps[op.Op] {
			c.fail(p.Child("op"), "%q is not a JSON patch operation (%s)", op.Op, keysOf(jsonPatchOps))
		}
		if !strings.HasPrefix(op.Path, "/") {
			c.fail(p.Child("path"), "%s must be a JSON pointer starting with /", msgfmt.QuoteShort(op.Path))
		}
		if (op.Op == "move" || op.Op == "copy") && !strings.HasPrefix(op.From, "/") {
			c.fail(p.Child("from"), "is required for %s and must start with /", op.Op)
		}
		if strings.HasPrefix(op.Path, "/metadata/name") || strings.HasPrefix(op.Path, "/metadata/namespace") || op.Path == "/kind" || op.Path == "/apiVersion" {
			c.fail(p.Child("path"), "patches must not change an object's identity (%s)", op.Path)
		}
	}
}

// --- shared checks ---

func (c checker) meta(p config.Path, field string, m config.ObjectMeta) {
	if field != "" {
		p = p.Child(field)
	}
	c.labels(p, "labels", m.Labels)
	c.annotations(p, "annotations", m.Annotations)
}

func (c checker) labels(p config.Path, field string, labels map[string]string) {
	for k, v := range labels {
		if isQualifiedName(k) && isLabelValue(v) {
			continue
		}
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			c.fail(p.LazyChild(field).Child(k), "%s is not a valid label key: %s", msgfmt.QuoteShort(k), strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			c.fail(p.LazyChild(field).Child(k), "%s is not a valid label value: %s", msgfmt.QuoteShort(v), strings.Join(msgs, "; "))
		}
	}
}

// maxAnnotationsSize is Kubernetes' limit on the total size of an object's annotations.
const maxAnnotationsSize = 256 * 1024

func (c checker) annotations(p config.Path, field string, ann map[string]string) {
	total := 0
	for k, v := range ann {
		total += len(k) + len(v)
		if isQualifiedName(k) {
			continue
		}
		if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			c.fail(p.LazyChild(field).Child(k), "%s is not a valid annotation key: %s", msgfmt.QuoteShort(k), strings.Join(msgs, "; "))
		}
	}
	if total > maxAnnotationsSize {
		c.fail(p.LazyChild(field), "annotations total %d bytes, more than Kubernetes' limit of %d", total, maxAnnotationsSize)
	}
}

func (c checker) dnsLabel(p config.Path, field, s string) {
	if s == "" {
		c.fail(p.LazyChild(field), "is required")
		return
	}
	if isDNSLabel(s) {
		return
	}
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		c.fail(p.LazyChild(field), "%s is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)", msgfmt.QuoteShort(s))
	}
}

func (c checker) dnsSubdomain(p config.Path, field, s string) {
	if s == "" {
		c.fail(p.LazyChild(field), "is required")
		return
	}
	if isDNSSubdomain(s) {
		return
	}
	if msgs := validation.IsDNS1123Subdomain(s); len(msgs) > 0 {
		c.fail(p.LazyChild(field), "%s is not a valid name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)", msgfmt.QuoteShort(s))
	}
}

func (c checker) required(p config.Path, field, s string) {
	if s == "" {
		c.fail(p.LazyChild(field), "is required")
	}
}

func (c checker) enum(p config.Path, field, v string, allowed map[string]bool) {
	if v != "" && !allowed[v] {
		c.fail(p.LazyChild(field), "%s is not one of %s", msgfmt.QuoteShort(v), keysOf(allowed))
	}
}

// cidr parses a CIDR in canonical form (no host bits set).
func (c checker) cidr(p config.Path, field, s string) (netip.Prefix, bool) {
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		c.fail(p.LazyChild(field), "%s is not a CIDR such as 10.0.0.0/16", msgfmt.QuoteShort(s))
		return netip.Prefix{}, false
	}
	if masked := prefix.Masked(); masked != prefix {
		c.fail(p.LazyChild(field), "%s has host bits set (did you mean %s?)", s, masked)
		return netip.Prefix{}, false
	}
	return prefix, true
}

// quoteShort quotes a value for a message, shortened so hostile input cannot flood the output.
func keysOf(m map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

func validDNSLabel(s string) bool {
	return s != "" && (isDNSLabel(s) || len(validation.IsDNS1123Label(s)) == 0)
}

func validDNSSubdomain(s string) bool {
	return s != "" && (isDNSSubdomain(s) || len(validation.IsDNS1123Subdomain(s)) == 0)
}
