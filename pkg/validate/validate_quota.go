package validate

import (
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The rules of ResourceQuota as kube-apiserver applies them (ValidateResourceQuotaSpec and
// the quota helpers of k8s.io/kubernetes/pkg/apis/core), written again here so that a quota
// the API server would refuse is refused at publish time instead of at sync time.

// standardQuotaResources are the unqualified names the quota system tracks; any other
// resource name needs a prefix (requests.nvidia.com/gpu, count/deployments.apps).
var standardQuotaResources = map[string]bool{
	"cpu": true, "memory": true, "ephemeral-storage": true,
	"requests.cpu": true, "requests.memory": true, "requests.storage": true, "requests.ephemeral-storage": true,
	"limits.cpu": true, "limits.memory": true, "limits.ephemeral-storage": true,
	"pods": true, "resourcequotas": true, "services": true, "replicationcontrollers": true, "secrets": true,
	"persistentvolumeclaims": true, "configmaps": true, "services.nodeports": true, "services.loadbalancers": true,
}

// integerQuotaResources count objects: their limits must be whole numbers.
var integerQuotaResources = map[string]bool{
	"pods": true, "resourcequotas": true, "services": true, "replicationcontrollers": true, "secrets": true,
	"configmaps": true, "persistentvolumeclaims": true, "services.nodeports": true, "services.loadbalancers": true,
}

func isQuotaHugePages(name string) bool {
	return strings.HasPrefix(name, "hugepages-") || strings.HasPrefix(name, "requests.hugepages-")
}

// isStandardQuotaResource mirrors IsStandardQuotaResourceName.
func isStandardQuotaResource(name string) bool {
	return standardQuotaResources[name] || isQuotaHugePages(name)
}

// isNativeResource reports whether a resource name is in the kubernetes.io namespace
// (unqualified names are).
func isNativeResource(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/")
}

// isExtendedResource mirrors IsExtendedResourceName: a qualified name outside kubernetes.io
// (nvidia.com/gpu), without the quota's "requests." prefix.
func isExtendedResource(name string) bool {
	if isNativeResource(name) || strings.HasPrefix(name, "requests.") {
		return false
	}
	return isQualifiedName("requests." + name)
}

// quotaScopes are the scopes kube-apiserver knows (IsStandardResourceQuotaScope).
var quotaScopes = map[string]bool{
	"Terminating": true, "NotTerminating": true, "BestEffort": true, "NotBestEffort": true,
	"PriorityClass": true, "CrossNamespacePodAffinity": true, "VolumeAttributesClass": true,
}

var (
	podComputeResources = map[string]bool{
		"cpu": true, "memory": true, "limits.cpu": true, "limits.memory": true, "requests.cpu": true, "requests.memory": true,
	}
	pvcQuotaResources = map[string]bool{"persistentvolumeclaims": true, "requests.storage": true}
)

// scopeAllows mirrors IsResourceQuotaScopeValidForResource: which standard resources a
// scoped quota may limit.
func scopeAllows(scope, res string) bool {
	switch scope {
	case "Terminating", "NotTerminating", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity":
		return res == "pods" || podComputeResources[res]
	case "BestEffort":
		return res == "pods"
	case "VolumeAttributesClass":
		return pvcQuotaResources[res]
	}
	return true
}

// scopeLimits says what a scope may limit, for messages.
func scopeLimits(scope string) string {
	switch scope {
	case "BestEffort":
		return "pods"
	case "VolumeAttributesClass":
		return "persistentvolumeclaims, requests.storage"
	}
	return "pods, cpu, memory, requests.cpu, requests.memory, limits.cpu, limits.memory"
}

// existsOnlyScopes take no values in a scope selector: their operator must be Exists.
var existsOnlyScopes = map[string]bool{
	"Terminating": true, "NotTerminating": true, "BestEffort": true, "NotBestEffort": true, "CrossNamespacePodAffinity": true,
}

// conflictingScopes are the pairs one quota cannot have both of.
var conflictingScopes = [][2]string{{"BestEffort", "NotBestEffort"}, {"Terminating", "NotTerminating"}}

func (c checker) resourceQuota(p config.Path, q *config.ResourceQuota) {
	if len(q.Hard) == 0 && len(q.Scopes) == 0 {
		c.fail(p.Child("hard"), "is required: the limits of the quota, e.g. {cpu: \"4\", memory: 8Gi}")
	}
	for k, v := range q.Hard {
		if !c.resourceName(p, "hard", k) {
			continue
		}
		if !strings.Contains(k, "/") && !isStandardQuotaResource(k) {
			c.fail(p.Child("hard").Child(k), "%s is not a resource a quota can limit: use a standard one (cpu, memory, pods, requests.storage, services ...) or a qualified name (requests.nvidia.com/gpu, count/deployments.apps)", msgfmt.QuoteShort(k))
			continue
		}
		qv, ok := c.quantityValue(p, "hard", k, v)
		if ok && (integerQuotaResources[k] || isExtendedResource(k)) && qv.MilliValue()%1000 != 0 {
			c.fail(p.Child("hard").Child(k), "%s must be a whole number: %s counts objects or devices", msgfmt.QuoteShort(v), k)
		}
	}
	var scopes map[string]bool // only built for scoped quotas
	if len(q.Scopes) > 0 {
		scopes = make(map[string]bool, len(q.Scopes))
	}
	for i, s := range q.Scopes {
		sp := p.Child("scopes").Index(i)
		if !quotaScopes[s] {
			c.fail(sp, "%s is not a quota scope (%s)", msgfmt.QuoteShort(s), keysOf(quotaScopes))
			continue
		}
		c.scopeResources(sp, s, q.Hard)
		scopes[s] = true
	}
	if len(scopes) > 1 {
		c.conflictingScopes(p.Child("scopes"), scopes)
	}
	if q.ScopeSelector == nil {
		return
	}
	sel := make(map[string]bool, len(q.ScopeSelector.MatchExpressions))
	for i, r := range q.ScopeSelector.MatchExpressions {
		ep := p.Child("scopeSelector").Child("matchExpressions").Index(i)
		if !quotaScopes[r.ScopeName] {
			c.fail(ep.Child("scopeName"), "%s is not a quota scope (%s)", msgfmt.QuoteShort(r.ScopeName), keysOf(quotaScopes))
		} else {
			c.scopeResources(ep.Child("scopeName"), r.ScopeName, q.Hard)
			sel[r.ScopeName] = true
		}
		if existsOnlyScopes[r.ScopeName] && r.Operator != "Exists" {
			c.fail(ep.Child("operator"), "must be Exists for scope %s (it takes no values)", r.ScopeName)
			continue
		}
		c.selectorOperator(ep, r.Operator, r.Values)
	}
	c.conflictingScopes(p.Child("scopeSelector").Child("matchExpressions"), sel)
}

// scopeResources reports each standard resource of hard that the scope cannot limit.
func (c checker) scopeResources(p config.Path, scope string, hard map[string]string) {
	for k := range hard {
		if isStandardQuotaResource(k) && !scopeAllows(scope, k) {
			c.fail(p, "scope %s cannot limit %s (it limits only %s)", scope, k, scopeLimits(scope))
		}
	}
}

func (c checker) conflictingScopes(p config.Path, scopes map[string]bool) {
	for _, pair := range conflictingScopes {
		if scopes[pair[0]] && scopes[pair[1]] {
			c.fail(p, "%s and %s exclude each other", pair[0], pair[1])
		}
	}
}

// resourceName checks that a resource name is a qualified name; it reports whether it is.
func (c checker) resourceName(p config.Path, field, name string) bool {
	if isQualifiedName(name) {
		return true
	}
	if msgs := validation.IsQualifiedName(name); len(msgs) > 0 {
		c.fail(p.LazyChild(field).Child(name), "%q is not a valid resource name: %s", name, strings.Join(msgs, "; "))
		return false
	}
	return true
}

// quantityValue parses a non-negative quantity, reporting a problem at p.field.key otherwise
// (building the path only then).
func (c checker) quantityValue(p config.Path, field, key, v string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(v)
	switch {
	case err != nil:
		c.fail(p.LazyChild(field).Child(key), "%s is not a quantity (e.g. 500m, 2, 8Gi)", msgfmt.QuoteShort(v))
		return q, false
	case q.Sign() < 0:
		c.fail(p.LazyChild(field).Child(key), "%s must not be negative", msgfmt.QuoteShort(v))
		return q, false
	}
	return q, true
}
