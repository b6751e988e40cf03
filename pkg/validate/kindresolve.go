package validate

import "github.com/dynamo-cmp/dynamo-cmp/pkg/config"

// resolvers decode an entry of each kind (its variables already substituted), check it and
// add it to the model; the kinds resolved first (cluster, settings) have none.
var resolvers map[string]func(c checker, body map[string]any, m *config.Model)

func init() {
	resolvers = map[string]func(checker, map[string]any, *config.Model){
		config.KindNamespace: resolveAs(func(c checker, v *config.Namespace, m *config.Model) { c.namespace(v, m.Cluster.Environment) },
			func(m *config.Model) *[]config.Namespace { return &m.Namespaces }),
		config.KindRole: resolveAs(func(c checker, v *config.Role, _ *config.Model) { c.role(v, nil) },
			func(m *config.Model) *[]config.Role { return &m.Roles }),
		config.KindRoleBinding: resolveAs(func(c checker, v *config.RoleBinding, _ *config.Model) { c.roleBinding(v, nil) },
			func(m *config.Model) *[]config.RoleBinding { return &m.RoleBindings }),
		config.KindClusterRole: resolveAs(func(c checker, v *config.ClusterRole, _ *config.Model) { c.clusterRole(v) },
			func(m *config.Model) *[]config.ClusterRole { return &m.ClusterRoles }),
		config.KindClusterRoleBinding: resolveAs(func(c checker, v *config.ClusterRoleBinding, _ *config.Model) { c.clusterRoleBinding(v) },
			func(m *config.Model) *[]config.ClusterRoleBinding { return &m.ClusterRoleBindings }),
		config.KindNetworkPolicy: resolveAs(func(c checker, v *config.NetworkPolicy, _ *config.Model) { c.networkPolicy(v, nil) },
			func(m *config.Model) *[]config.NetworkPolicy { return &m.NetworkPolicies }),
		config.KindCalicoIPPool: resolveAs(func(c checker, v *config.IPPool, _ *config.Model) { c.ipPool(v) },
			func(m *config.Model) *[]config.IPPool { return &m.IPPools }),
		config.KindCalicoNetworkPolicy: resolveAs(func(c checker, v *config.CalicoNetworkPolicy, _ *config.Model) { c.calicoNetworkPolicy(v) },
			func(m *config.Model) *[]config.CalicoNetworkPolicy { return &m.CalicoNetworkPolicies }),
		config.KindCalicoGlobalNetworkPolicy: resolveAs(func(c checker, v *config.CalicoGlobalNetworkPolicy, _ *config.Model) { c.calicoGlobalNetworkPolicy(v) },
			func(m *config.Model) *[]config.CalicoGlobalNetworkPolicy { return &m.CalicoGlobalNetworkPolicies }),
		config.KindCalicoBGPConfiguration: resolveAs(func(c checker, v *config.BGPConfiguration, _ *config.Model) { c.bgpConfiguration(v) },
			func(m *config.Model) *[]config.BGPConfiguration { return &m.BGPConfigurations }),
		config.KindAddon: resolveAddon,
		config.KindManifest: func(c checker, body map[string]any, m *config.Model) {
			c.manifest(body)
			m.Manifests = append(m.Manifests, body)
		},
		config.KindPatch: resolveAs(func(c checker, v *config.Patch, _ *config.Model) {
			c.patch(v)
			v.TargetLayer = c.r.merged.Origin(c.e.Kind, c.e.Key, config.Path{}.Child("target"))
			v.OpsLayer = c.r.merged.Origin(c.e.Kind, c.e.Key, config.Path{}.Child(v.OpsField()))
			v.Layers = c.r.merged.HolderRefs(c.e.ID())
		}, func(m *config.Model) *[]config.Patch { return &m.Patches }),
	}
}

// resolveAs is the resolve of a kind decoded into a T, checked by check and added to the
// model's list of them.
func resolveAs[T any](check func(checker, *T, *config.Model), list func(*config.Model) *[]T) func(checker, map[string]any, *config.Model) {
	return func(c checker, body map[string]any, m *config.Model) {
		v := decodeAs[T](c.r, c.e, body)
		check(c, &v, m)
		*list(m) = append(*list(m), v)
	}
}

// resolveAddon adds an add-on to the model only when it is enabled (a disabled one in a
// lower layer switches the add-on off).
func resolveAddon(c checker, body map[string]any, m *config.Model) {
	v := decodeAs[config.Addon](c.r, c.e, body)
	c.addon(&v, m)
	if v.IsEnabled() {
		m.Addons = append(m.Addons, v)
	}
}
