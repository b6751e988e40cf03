package validate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// resolveYAML parses a YAML stream of layer documents and resolves cluster c1.
func resolveYAML(t *testing.T, doc string) (*config.Model, error) {
	t.Helper()
	layers, err := layerfile.ParseLayers("test.yaml", []byte(doc))
	if err != nil {
		return nil, err
	}
	return validate.Resolve(layers, "c1")
}

const clusterHead = `layer: cluster/c1
cluster: {environment: dev, region: eu-west-1}
`

// TestValidationMessages checks every validation rule with the exact message a user sees.
func TestValidationMessages(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "quantity",
			doc: clusterHead + `namespaces:
  - namespace: dev-team
    resourceQuota: {hard: {cpu: four, memory: -1Gi}}`,
			want: []string{
				`cluster/c1: namespaces[dev-team].resourceQuota.hard.cpu: "four" is not a quantity (e.g. 500m, 2, 8Gi)`,
				`cluster/c1: namespaces[dev-team].resourceQuota.hard.memory: "-1Gi" must not be negative`,
			},
		},
		{
			name: "quantity from a lower layer is attributed to it",
			doc: `layer: env/dev
namespaces:
  - {namespace: dev-team, resourceQuota: {cpu: "4x"}}
---
` + clusterHead + `namespaces:
  - {namespace: dev-team, resourceQuota: {hard: {memory: 8Gi}}}`,
			want: []string{`env/dev: namespaces[dev-team].resourceQuota.hard.cpu: "4x" is not a quantity (e.g. 500m, 2, 8Gi)`},
		},
		{
			name: "dns names",
			doc: clusterHead + `namespaces:
  - namespace: Dev_Team
  - namespace: "../etc"
  - namespace: "a\nb"
networkPolicies:
  - {name: UPPER, namespace: ok}`,
			want: []string{
				`cluster/c1: namespaces["a\nb"].namespace: "a\nb" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)`,
				`cluster/c1: namespaces[../etc].namespace: "../etc" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)`,
				`cluster/c1: namespaces[Dev_Team].namespace: "Dev_Team" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)`,
				`cluster/c1: networkPolicies[ok/UPPER].name: "UPPER" is not a valid name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)`,
			},
		},
		{
			name: "labels and annotations",
			doc: clusterHead + `namespaces:
  - namespace: ns
    labels: {"bad key!": x, good: "not valid value!", "example.com/ok": "fine"}
    annotations: {"/nope": x}`,
			want: []string{
				`cluster/c1: namespaces[ns].annotations["/nope"]: "/nope" is not a valid annotation key: prefix part must be non-empty`,
				`cluster/c1: namespaces[ns].labels.good: "not valid value!" is not a valid label value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
				`cluster/c1: namespaces[ns].labels["bad key!"]: "bad key!" is not a valid label key: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			},
		},
		{
			name: "cidrs",
			doc: clusterHead + `networkPolicies:
  - name: np
    namespace: ns
    egress:
      - to:
          - ipBlock: {cidr: 10.0.0.0/33}
          - ipBlock: {cidr: 10.1.2.3/16}
          - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16, 10.0.0.0/8]}
calico:
  ipPools:
    - {name: p, cidr: not-a-cidr}`,
			want: []string{
				`cluster/c1: calico.ipPools[p].cidr: "not-a-cidr" is not a CIDR such as 10.0.0.0/16`,
				`cluster/c1: networkPolicies[ns/np].egress[0].to[0].ipBlock.cidr: "10.0.0.0/33" is not a CIDR such as 10.0.0.0/16`,
				`cluster/c1: networkPolicies[ns/np].egress[0].to[1].ipBlock.cidr: 10.1.2.3/16 has host bits set (did you mean 10.1.0.0/16?)`,
				`cluster/c1: networkPolicies[ns/np].egress[0].to[2].ipBlock.except[0]: 11.0.0.0/16 is not strictly inside 10.0.0.0/8`,
				`cluster/c1: networkPolicies[ns/np].egress[0].to[2].ipBlock.except[1]: 10.0.0.0/8 is not strictly inside 10.0.0.0/8`,
			},
		},
		{
			name: "rbac verbs and role refs",
			doc: clusterHead + `roles:
  - name: r
    namespace: ns
    rules:
      - {apiGroups: [""], resources: [pods], verbs: [get, destroy]}
      - {resources: [pods], verbs: [get]}
      - {apiGroups: [""], nonResourceURLs: [/metrics], verbs: [get]}
roleBindings:
  - name: b
    namespace: ns
    roleRef: {kind: Group, name: r}
    subjects: [{kind: Robot, name: x}]
clusterRoleBindings:
  - name: cb
    roleRef: {kind: Role, name: r}
    subjects: [{kind: ServiceAccount, name: sa}]`,
			want: []string{
				`cluster/c1: clusterRoleBindings[cb].roleRef.kind: "Role" is not allowed here (ClusterRole)`,
				`cluster/c1: clusterRoleBindings[cb].subjects[sa].namespace: is required for a service account in a cluster role binding`,
				`cluster/c1: roleBindings[ns/b].roleRef.kind: "Group" is not allowed here (Role or ClusterRole)`,
				`cluster/c1: roleBindings[ns/b].subjects[x].kind: "Robot" is not a subject kind (User, Group or ServiceAccount)`,
				`cluster/c1: roles[ns/r].rules[0].verbs[1]: "destroy" is not an RBAC verb (*, approve, attest, bind, create, delete, deletecollection, escalate, get, impersonate, list, patch, sign, update, use, watch)`,
				`cluster/c1: roles[ns/r].rules[1].apiGroups: is required with resources ("" is the core group)`,
				`cluster/c1: roles[ns/r].rules[2].nonResourceURLs: only cluster roles may grant nonResourceURLs`,
			},
		},
		{
			name: "ports",
			doc: clusterHead + `networkPolicies:
  - name: np
    namespace: ns
    ingress:
      - ports:
          - {protocol: TCP, port: 0}
          - {protocol: TCP, port: 70000}
          - {protocol: ICMP, port: 80}
          - {port: 9000, endPort: 8000}
          - {port: http, endPort: 90}
          - {port: "not a name"}`,
			want: []string{
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[0].port: 0 is outside the port range 1-65535`,
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[1].port: 70000 is outside the port range 1-65535`,
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[2].protocol: "ICMP" is not a protocol (TCP, UDP or SCTP)`,
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[3].endPort: 8000 is below port 9000`,
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[4].endPort: needs a numeric port`,
				`cluster/c1: networkPolicies[ns/np].ingress[0].ports[5].port: "not a name" is not a port number or name: must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			},
		},
		{
			name: "duplicates and conflicts",
			doc: clusterHead + `namespaces:
  - namespace: ns
    roles:
      - {name: r, rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}
    defaultDeny: true
roles:
  - {name: r, namespace: ns, rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}
networkPolicies:
  - {name: default-deny, namespace: ns}
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: ns}}
calico:
  ipPools:
    - {name: a, cidr: 10.0.0.0/16}
    - {name: b, cidr: 10.0.128.0/17}`,
			want: []string{
				`cluster/c1: calico.ipPools[b].cidr: 10.0.128.0/17 overlaps IP pool a (10.0.0.0/16)`,
				`cluster/c1: manifests[Namespace/ns]: renders Namespace ns, which namespaces[ns] already renders`,
				`cluster/c1: networkPolicies[ns/default-deny]: renders NetworkPolicy ns/default-deny, which namespaces[ns].defaultDeny already renders`,
				`cluster/c1: roles[ns/r]: renders Role ns/r, which namespaces[ns].roles[r] already renders`,
			},
		},
		{
			name: "unknown fields (strict decode)",
			doc: clusterHead + `namespaces:
  - namespace: ns
    resourceQouta: {cpu: "1"}
    limitRange: {container: {defaults: {cpu: 1}}}
calico:
  ipPools:
    - {name: p, cidr: 10.0.0.0/16, natOutgoing: "yes"}`,
			want: []string{
				`cluster/c1: calico.ipPools[p].natOutgoing: must be true or false, not a string`,
				`cluster/c1: namespaces[ns].limitRange.container.defaults: unknown field (known fields: default, defaultRequest, max, maxLimitRequestRatio, min)`,
				`cluster/c1: namespaces[ns].resourceQouta: unknown field (known fields: annotations, defaultDeny, labels, limitRange, namespace, networkPolicies, resourceQuota, roleBindings, roles)`,
			},
		},
		{
			name: "calico enums",
			doc: clusterHead + `calico:
  ipPools:
    - {name: p, cidr: 10.0.0.0/16, ipipMode: Sometimes, vxlanMode: Always, blockSize: 12, allowedUses: [Everything]}
    - {name: q, cidr: "fd00::/64", ipipMode: Always, blockSize: 64}
  networkPolicies:
    - name: np
      namespace: ns
      types: [Sideways]
      ingress:
        - {action: Permit, protocol: TCPP}
        - {action: Allow, protocol: ICMP, destination: {ports: [80]}}
        - {protocol: TCP, ipVersion: 5, source: {ports: ["90:80"]}}
  bgpConfigurations:
    - {name: default, logSeverityScreen: Loud, asNumber: 0}`,
			want: []string{
				`cluster/c1: calico.bgpConfigurations[default].asNumber: 0 is not an AS number (1-4294967295)`,
				`cluster/c1: calico.bgpConfigurations[default].logSeverityScreen: "Loud" is not one of Debug, Error, Fatal, Info, Warning`,
				`cluster/c1: calico.ipPools[p].allowedUses[0]: "Everything" is not one of LoadBalancer, Tunnel, Workload`,
				`cluster/c1: calico.ipPools[p].blockSize: 12 is outside 20-32 for an IPv4 pool`,
				`cluster/c1: calico.ipPools[p].ipipMode: "Sometimes" is not one of Always, CrossSubnet, Never`,
				`cluster/c1: calico.ipPools[q].blockSize: 64 is outside 116-128 for an IPv6 pool`,
				`cluster/c1: calico.ipPools[q].ipipMode: IPIP is not supported for IPv6 pools`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[0].action: "Permit" is not one of Allow, Deny, Log, Pass`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[0].protocol: "TCPP" is not one of ICMP, ICMPv6, SCTP, TCP, UDP, UDPLite`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[1].destination.ports: ports need protocol TCP, UDP, SCTP or UDPLite`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[2].action: is required (Allow, Deny, Log, Pass)`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[2].ipVersion: 5 is not 4 or 6`,
				`cluster/c1: calico.networkPolicies[ns/np].ingress[2].source.ports[0]: "90:80" is not a port range such as 8000:8080`,
				`cluster/c1: calico.networkPolicies[ns/np].types[0]: "Sideways" is not one of Egress, Ingress`,
			},
		},
		{
			name: "variables",
			doc: clusterHead + `namespaces:
  - namespace: ns
    annotations: {a: "${cluster.zone}", b: "${vars.missing", c: "$${literal}"}`,
			want: []string{
				`cluster/c1: namespaces[ns].annotations.a: unknown variable ${cluster.zone} (known: ${cluster.environment}, ${cluster.name}, ${cluster.region}, ${env})`,
				`cluster/c1: namespaces[ns].annotations.b: unterminated variable reference "${vars.missing" (write $${ for a literal ${)`,
			},
		},
		{
			// Issue 18 §5: a missing variable was reported twice, once as unknown and once
			// as the value it left behind.
			name: "an unknown variable is reported once",
			doc: clusterHead + `namespaces:
  - namespace: ns
    labels: {team: "${vars.team}"}
    resourceQuota: {cpu: "${vars.cpu}"}`,
			want: []string{
				`cluster/c1: namespaces[ns].labels.team: unknown variable ${vars.team} (known: ${cluster.environment}, ${cluster.name}, ${cluster.region}, ${env})`,
				`cluster/c1: namespaces[ns].resourceQuota.hard.cpu: unknown variable ${vars.cpu} (known: ${cluster.environment}, ${cluster.name}, ${cluster.region}, ${env})`,
			},
		},
		{
			// Issue 18 §5: a variable whose value holds a reference was left unexpanded
			// without a word.
			name: "a variable holding a reference",
			doc: `layer: global
settings:
  vars: {domain: "${cluster.name}.corp", price: "$${literal}"}
namespaces:
  - namespace: ns
    annotations: {host: "api.${vars.domain}", price: "${vars.price}", account: "${vars.account}"}
---
layer: cluster/c1
cluster: {environment: dev, region: eu-west-1, vars: {account: "${vars.domain}"}}`,
			want: []string{
				`global: namespaces[ns].annotations.account: ${vars.account} holds a reference itself (${vars.domain}), which is not expanded: variables do not nest; write the reference in the field itself`,
				`global: namespaces[ns].annotations.host: ${vars.domain} holds a reference itself (${cluster.name}), which is not expanded: variables do not nest; write the reference in the field itself`,
			},
		},
		{
			// Issue 18 §5: the projects of the cluster record were not checked.
			name: "cluster projects",
			doc: `layer: cluster/c1
cluster: {environment: dev, region: eu-west-1, projects: [platform, Team_A, "", platform, apps.example]}`,
			want: []string{
				`cluster/c1: cluster.projects[1]: "Team_A" is not a valid Argo CD project name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)`,
				`cluster/c1: cluster.projects[2]: must not be empty`,
				`cluster/c1: cluster.projects[3]: "platform" is listed twice (also projects[0])`,
			},
		},
		{
			// Issue 18 §5: an environment that is not a valid name was also reported against
			// global, where the quota and limit range names derived from it were used.
			name: "an invalid environment is reported at the cluster record only",
			doc: `layer: global
namespaces:
  - namespace: monitoring
    resourceQuota: {cpu: "2"}
    limitRange: {container: {default: {cpu: 500m}}}
    labels: {env: "${env}"}
    annotations: {where: "${cluster.region}"}
  - namespace: apps
    resourceQuota: {name: Bad_Quota, cpu: "2"}
manifests:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: "${env}-settings", namespace: monitoring}}
---
layer: cluster/c1
cluster: {environment: Prod, region: eu-west-1}`,
			want: []string{
				`cluster/c1: cluster.environment: "Prod" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)`,
				`global: namespaces[apps].resourceQuota.name: "Bad_Quota" is not a valid name (DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)`,
			},
		},
		{
			name: "secrets and manifests",
			doc: clusterHead + `manifests:
  - {apiVersion: v1, kind: Secret, metadata: {name: db, namespace: ns}, stringData: {password: hunter2}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}}
  - {apiVersion: "", kind: Widget, metadata: {name: w}}`,
			want: []string{
				`cluster/c1: manifests[ConfigMap/cm].metadata.namespace: is required: ConfigMap is namespaced, and Argo CD would otherwise put it in the Application's destination namespace`,
				`cluster/c1: manifests[Secret/ns/db].kind: Secret objects are refused: Argo CD caches generated manifests in plain text (in Redis and on the repo-server), so secrets do not belong in this table: keep them in a secrets operator (External Secrets, Sealed Secrets ...) and reference them`,
				`cluster/c1: manifests[Widget/w].apiVersion: is required`,
			},
		},
		{
			name: "quota resources and integers (ValidateResourceQuotaSpec)",
			doc: clusterHead + `namespaces:
  - namespace: ns
    resourceQuota:
      hard: {foo: "1", pods: "1.5", services: 500m, "nvidia.com/gpu": "0.5", "requests.nvidia.com/gpu": "0.5", "count/deployments.apps": "2", "hugepages-2Mi": 1Gi, storage: 1Gi}`,
			want: []string{
				`cluster/c1: namespaces[ns].resourceQuota.hard.foo: "foo" is not a resource a quota can limit: use a standard one (cpu, memory, pods, requests.storage, services ...) or a qualified name (requests.nvidia.com/gpu, count/deployments.apps)`,
				`cluster/c1: namespaces[ns].resourceQuota.hard.pods: "1.5" must be a whole number: pods counts objects or devices`,
				`cluster/c1: namespaces[ns].resourceQuota.hard.services: "500m" must be a whole number: services counts objects or devices`,
				`cluster/c1: namespaces[ns].resourceQuota.hard.storage: "storage" is not a resource a quota can limit: use a standard one (cpu, memory, pods, requests.storage, services ...) or a qualified name (requests.nvidia.com/gpu, count/deployments.apps)`,
				`cluster/c1: namespaces[ns].resourceQuota.hard["nvidia.com/gpu"]: "0.5" must be a whole number: nvidia.com/gpu counts objects or devices`,
			},
		},
		{
			name: "quota scopes (validateResourceQuotaScopes, validateScopeSelector)",
			doc: clusterHead + `namespaces:
  - namespace: a
    resourceQuota: {hard: {cpu: "1", pods: "2"}, scopes: [BestEffort, NotBestEffort, Sometimes]}
  - namespace: b
    resourceQuota:
      hard: {requests.storage: 1Gi, persistentvolumeclaims: "3"}
      scopes: [Terminating, VolumeAttributesClass]
  - namespace: c
    resourceQuota:
      hard: {pods: "4"}
      scopeSelector:
        matchExpressions:
          - {scopeName: BestEffort, operator: In, values: [x]}
          - {scopeName: PriorityClass, operator: In}
          - {scopeName: PriorityClass, operator: Equals, values: [high]}
          - {scopeName: NotBestEffort, operator: Exists}
          - {scopeName: Forever, operator: Exists}`,
			want: []string{
				`cluster/c1: namespaces[a].resourceQuota.scopes: BestEffort and NotBestEffort exclude each other`,
				`cluster/c1: namespaces[a].resourceQuota.scopes[0]: scope BestEffort cannot limit cpu (it limits only pods)`,
				`cluster/c1: namespaces[a].resourceQuota.scopes[2]: "Sometimes" is not a quota scope (BestEffort, CrossNamespacePodAffinity, NotBestEffort, NotTerminating, PriorityClass, Terminating, VolumeAttributesClass)`,
				`cluster/c1: namespaces[b].resourceQuota.scopes[0]: scope Terminating cannot limit persistentvolumeclaims (it limits only pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory)`,
				`cluster/c1: namespaces[b].resourceQuota.scopes[0]: scope Terminating cannot limit requests.storage (it limits only pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory)`,
				`cluster/c1: namespaces[c].resourceQuota.scopeSelector.matchExpressions: BestEffort and NotBestEffort exclude each other`,
				`cluster/c1: namespaces[c].resourceQuota.scopeSelector.matchExpressions[0].operator: must be Exists for scope BestEffort (it takes no values)`,
				`cluster/c1: namespaces[c].resourceQuota.scopeSelector.matchExpressions[1].values: operator In needs values`,
				`cluster/c1: namespaces[c].resourceQuota.scopeSelector.matchExpressions[2].operator: "Equals" is not an operator (In, NotIn, Exists, DoesNotExist)`,
				`cluster/c1: namespaces[c].resourceQuota.scopeSelector.matchExpressions[4].scopeName: "Forever" is not a quota scope (BestEffort, CrossNamespacePodAffinity, NotBestEffort, NotTerminating, PriorityClass, Terminating, VolumeAttributesClass)`,
			},
		},
		{
			name: "limit range relations (ValidateLimitRange)",
			doc: clusterHead + `namespaces:
  - namespace: ns
    limitRange:
      container:
        min: {cpu: 200m, memory: 1Gi}
        max: {cpu: "1", memory: 512Mi}
        default: {cpu: "2", memory: 100Mi}
        defaultRequest: {cpu: "3", memory: 50Mi}
        maxLimitRequestRatio: {cpu: 500m}
      pod:
        min: {cpu: 100m}
        max: {cpu: 200m}
        maxLimitRequestRatio: {cpu: "3"}
      persistentVolumeClaim:
        max: {requests.storage: 1Gi}`,
			want: []string{
				`cluster/c1: namespaces[ns].limitRange.container.default.cpu: 2 is above max 1`,
				`cluster/c1: namespaces[ns].limitRange.container.default.memory: 100Mi is below min 1Gi`,
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest.cpu: 3 is above max 1`,
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest.cpu: 3 is above the default limit 2`,
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest.memory: 50Mi is below min 1Gi`,
				`cluster/c1: namespaces[ns].limitRange.container.maxLimitRequestRatio.cpu: 500m is below 1`,
				`cluster/c1: namespaces[ns].limitRange.container.min.memory: 1Gi is above max 512Mi`,
				`cluster/c1: namespaces[ns].limitRange.persistentVolumeClaim: persistentVolumeClaim limits need min or max storage`,
				`cluster/c1: namespaces[ns].limitRange.pod.maxLimitRequestRatio.cpu: 3 is above max/min = 2 (200m/100m)`,
			},
		},
		{
			name: "limit range resource names",
			doc: clusterHead + `namespaces:
  - namespace: ns
    limitRange:
      container:
        max: {pods: "3", storage: 1Gi, "requests.nvidia.com/gpu": "1", "example.com/foo": "1", "hugepages-2Mi": 1Gi}
        default: {"example.com/foo": "1"}
        defaultRequest: {"example.com/foo": "2"}
      persistentVolumeClaim:
        min: {storage: 1Gi, disks: "2"}`,
			want: []string{
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest["example.com/foo"]: 2 is above max 1`,
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest["example.com/foo"]: 2 is above the default limit 1`,
				`cluster/c1: namespaces[ns].limitRange.container.defaultRequest["example.com/foo"]: 2 must equal the default 1: example.com/foo cannot be overcommitted`,
				`cluster/c1: namespaces[ns].limitRange.container.max.pods: "pods" is not a resource for containers (cpu, memory, ephemeral-storage, hugepages-<size>) or a qualified name`,
				`cluster/c1: namespaces[ns].limitRange.container.max.storage: "storage" is not a resource for containers (cpu, memory, ephemeral-storage, hugepages-<size>) or a qualified name`,
				`cluster/c1: namespaces[ns].limitRange.container.max["requests.nvidia.com/gpu"]: "requests.nvidia.com/gpu" is not an extended resource name (such as nvidia.com/gpu)`,
				`cluster/c1: namespaces[ns].limitRange.persistentVolumeClaim.min.disks: "disks" is not a standard resource (storage) or a qualified name`,
			},
		},
		{
			name: "rbac and network policy shapes",
			doc: clusterHead + `clusterRoles:
  - name: agg
    aggregationRule: {clusterRoleSelectors: []}
  - name: mixed
    rules: [{apiGroups: [""], nonResourceURLs: [/metrics], verbs: [get]}]
networkPolicies:
  - {name: np, namespace: ns, policyTypes: [Ingress, Egress, Ingress]}`,
			want: []string{
				`cluster/c1: clusterRoles[agg].aggregationRule.clusterRoleSelectors: needs at least one selector`,
				`cluster/c1: clusterRoles[mixed].rules[0]: a rule grants either resources (apiGroups, resources, resourceNames) or nonResourceURLs, not both`,
				`cluster/c1: networkPolicies[ns/np].policyTypes: at most two policy types (Ingress and Egress)`,
			},
		},
		{
			name: "manifests of kinds not known to be cluster-scoped need a namespace",
			doc: clusterHead + `manifests:
  - {apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: app}, spec: {}}
  - {apiVersion: projectcalico.org/v3, kind: NetworkSet, metadata: {name: set}}
  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}
  - {apiVersion: projectcalico.org/v3, kind: GlobalNetworkSet, metadata: {name: gset}}
  - {apiVersion: storage.k8s.io/v1, kind: StorageClass, metadata: {name: sc, namespace: ns}, provisioner: x}
  - {apiVersion: cert-manager.io/v1, kind: ClusterIssuer, metadata: {name: ci, annotations: {dynamo-cmp.io/cluster-scoped: "true"}}}`,
			want: []string{
				`cluster/c1: manifests[Application/app].metadata.namespace: is required: Application.argoproj.io is not a kind known to be cluster-scoped, and Argo CD would put a namespaced object in the Application's destination namespace (if Application is cluster-scoped, annotate it dynamo-cmp.io/cluster-scoped: "true")`,
				`cluster/c1: manifests[Deployment/d].metadata.namespace: is required: Deployment is namespaced, and Argo CD would otherwise put it in the Application's destination namespace`,
				`cluster/c1: manifests[NetworkSet/set].metadata.namespace: is required: NetworkSet is namespaced, and Argo CD would otherwise put it in the Application's destination namespace`,
				`cluster/c1: manifests[StorageClass/ns/sc].metadata.namespace: StorageClass is cluster-scoped: leave the namespace out`,
			},
		},
		{
			name: "cluster record",
			doc: `layer: cluster/c1
cluster: {region: "EU West", colour: blue}`,
			want: []string{
				`cluster/c1: cluster.colour: unknown field (known fields: environment, labels, name, projects, region, vars)`,
				`cluster/c1: cluster.environment: is required: the environment layer (env/<environment>) this cluster merges`,
				`cluster/c1: cluster.region: "EU West" is not a valid name (DNS-1123 label: lower-case letters, digits and '-', at most 63 characters)`,
			},
		},
		{
			name: "add-ons and patches",
			doc: clusterHead + `addons:
  - {name: a, namespace: x}
  - {name: b, namespace: x, chart: {repoURL: r, chart: c}, git: {repoURL: r, path: p}}
patches:
  - {name: p1, target: {}}
  - {name: p2, target: {kind: Namespace}, json6902: [{op: rename, path: metadata/name}, {op: replace, path: /metadata/name, value: x}]}`,
			want: []string{
				`cluster/c1: addons[a].chart: an add-on needs a chart {repoURL, chart, version} or git {repoURL, path}`,
				`cluster/c1: addons[b].chart: an add-on comes from a chart or from git, not both`,
				`cluster/c1: patches[p1].strategicMerge: a patch needs strategicMerge (a partial object) or json6902 (operations)`,
				`cluster/c1: patches[p1].target.kind: is required`,
				`cluster/c1: patches[p2].json6902[0].op: "rename" is not a JSON patch operation (add, copy, move, remove, replace, test)`,
				`cluster/c1: patches[p2].json6902[0].path: "metadata/name" must be a JSON pointer starting with /`,
				`cluster/c1: patches[p2].json6902[1].path: patches must not change an object's identity (/metadata/name)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveYAML(t, tt.doc)
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a validation error, got %v", err)
			}
			got := strings.Split(ve.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("messages differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestValidConfigurationsResolve makes sure the rules do not reject what Kubernetes accepts.
func TestValidConfigurationsResolve(t *testing.T) {
	doc := clusterHead + `namespaces:
  - namespace: ns
    resourceQuota: {cpu: 4, memory: 8Gi, "requests.nvidia.com/gpu": "2", "hugepages-2Mi": 1Gi, "count/pods": "3"}
  - namespace: scoped
    resourceQuota:
      hard: {pods: "10", requests.cpu: "2", "count/deployments.apps": "3", "requests.nvidia.com/gpu": "0.5"}
      scopes: [NotBestEffort, NotTerminating]
      scopeSelector:
        matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]
    limitRange:
      container:
        min: {cpu: 100m}
        max: {cpu: "2", "nvidia.com/gpu": "2"}
        default: {cpu: "1", "nvidia.com/gpu": "1"}
        defaultRequest: {cpu: 500m, "nvidia.com/gpu": "1"}
        maxLimitRequestRatio: {cpu: "4"}
      persistentVolumeClaim: {min: {storage: 1Gi}, max: {storage: 10Gi}}
roles:
  - name: "system:reader"
    namespace: ns
    rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
clusterRoles:
  - name: "system:aggregate-to-view:extra"
    rules: [{nonResourceURLs: ["/healthz/*"], verbs: [get]}]
networkPolicies:
  - name: np
    namespace: ns
    ingress:
      - from: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]
        ports: [{protocol: SCTP, port: 1, endPort: 65535}]
manifests:
  - {apiVersion: argoproj.io/v1alpha1, kind: Application, metadata: {name: app, namespace: argocd}, spec: {}}
  - {apiVersion: projectcalico.org/v3, kind: GlobalNetworkSet, metadata: {name: gset}}
  - {apiVersion: cert-manager.io/v1, kind: ClusterIssuer, metadata: {name: ci, annotations: {dynamo-cmp.io/cluster-scoped: "true"}}}`
	m, err := resolveYAML(t, doc)
	if err != nil {
		t.Fatalf("valid configuration refused:\n%v", err)
	}
	if got := m.Namespaces[0].ResourceQuota.Hard["cpu"]; got != "4" {
		t.Errorf("cpu: 4 (a YAML number) should become the quantity \"4\", got %q", got)
	}
}

func TestMissingClusterRecord(t *testing.T) {
	layers, err := layerfile.ParseLayers("x", []byte("layer: cluster/c1\nnamespaces: [{namespace: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = validate.Resolve(layers, "c1")
	if !errors.Is(err, config.ErrNoClusterRecord) {
		t.Fatalf("want ErrNoClusterRecord, got %v", err)
	}
}
