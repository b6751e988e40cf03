package config

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The rules of LimitRange as kube-apiserver applies them (ValidateLimitRange of
// k8s.io/kubernetes/pkg/apis/core/validation), written again here.

// standardResources are the unqualified resource names Kubernetes knows (IsStandardResourceName).
var standardResources = map[string]bool{
	"cpu": true, "memory": true, "ephemeral-storage": true, "storage": true,
	"requests.cpu": true, "requests.memory": true, "requests.ephemeral-storage": true, "requests.storage": true,
	"limits.cpu": true, "limits.memory": true, "limits.ephemeral-storage": true,
	"pods": true, "resourcequotas": true, "services": true, "replicationcontrollers": true, "secrets": true,
	"configmaps": true, "persistentvolumeclaims": true, "services.nodeports": true, "services.loadbalancers": true,
}

// containerResources are the unqualified names a container (or pod) limit may use.
var containerResources = map[string]bool{"cpu": true, "memory": true, "ephemeral-storage": true}

// limitResourceProblem says what is wrong with a resource name in a limit of the given type
// ("Container", "Pod", "PersistentVolumeClaim"), or "".
func limitResourceProblem(typ, name string) string {
	qualified := strings.Contains(name, "/")
	switch {
	case typ == "PersistentVolumeClaim":
		if !qualified && !standardResources[name] && !isQuotaHugePages(name) {
			return "is not a standard resource (storage) or a qualified name"
		}
	case !qualified:
		if !containerResources[name] && !strings.HasPrefix(name, "hugepages-") {
			return "is not a resource for containers (cpu, memory, ephemeral-storage, hugepages-<size>) or a qualified name"
		}
	case !isNativeResource(name) && !isExtendedResource(name):
		return "is not an extended resource name (such as nvidia.com/gpu)"
	}
	return ""
}

// limitValue is one parsed quantity of a limit.
type limitValue struct {
	raw string
	q   resource.Quantity
}

func (c checker) limitRange(p Path, l *LimitRange) {
	if l.Container == nil && l.Pod == nil && l.PersistentVolumeClaim == nil {
		c.fail(p, "needs container, pod or persistentVolumeClaim limits")
	}
	c.limitItem(p.Child("container"), "Container", l.Container)
	c.limitItem(p.Child("pod"), "Pod", l.Pod)
	c.limitItem(p.Child("persistentVolumeClaim"), "PersistentVolumeClaim", l.PersistentVolumeClaim)
}

// limitItem checks one item of spec.limits: resource names, quantities, and how min, max,
// default, defaultRequest and maxLimitRequestRatio relate.
func (c checker) limitItem(p Path, typ string, v *LimitValues) {
	if v == nil {
		return
	}
	if typ == "Pod" && (len(v.Default) > 0 || len(v.DefaultRequest) > 0) {
		c.fail(p, "pod limits have no defaults (only min, max and maxLimitRequestRatio)")
	}
	if typ == "PersistentVolumeClaim" {
		_, hasMin := v.Min["storage"]
		_, hasMax := v.Max["storage"]
		if !hasMin && !hasMax {
			c.fail(p, "persistentVolumeClaim limits need min or max storage")
		}
	}
	lists := [...]struct {
		field string
		m     map[string]string
	}{{"min", v.Min}, {"max", v.Max}, {"default", v.Default}, {"defaultRequest", v.DefaultRequest}, {"maxLimitRequestRatio", v.MaxLimitRequestRatio}}
	const minI, maxI, defI, reqI, ratioI = 0, 1, 2, 3, 4
	var parsed [len(lists)]map[string]limitValue
	for i, l := range lists {
		for k, raw := range l.m {
			if !c.resourceName(p, l.field, k) {
				continue
			}
			if msg := limitResourceProblem(typ, k); msg != "" {
				c.fail(p.Child(l.field).Child(k), "%s %s", quoteShort(k), msg)
				continue
			}
			q, ok := c.quantityValue(p.Child(l.field), k, raw)
			if !ok {
				continue
			}
			if parsed[i] == nil {
				parsed[i] = make(map[string]limitValue, len(l.m))
			}
			parsed[i][k] = limitValue{raw, q}
		}
	}
	// above reports a > b at the path of field.key (the value the API server names).
	above := func(field, key string, a, b limitValue, what string) {
		if a.q.Cmp(b.q) > 0 {
			c.fail(p.Child(field).Child(key), "%s", what)
		}
	}
	keys := make(map[string]bool)
	for _, m := range parsed {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		mn, hasMin := parsed[minI][k]
		mx, hasMax := parsed[maxI][k]
		def, hasDef := parsed[defI][k]
		req, hasReq := parsed[reqI][k]
		ratio, hasRatio := parsed[ratioI][k]
		if hasMin && hasMax {
			above("min", k, mn, mx, mn.raw+" is above max "+mx.raw)
		}
		if hasReq && hasMin {
			above("defaultRequest", k, mn, req, req.raw+" is below min "+mn.raw)
		}
		if hasReq && hasMax {
			above("defaultRequest", k, req, mx, req.raw+" is above max "+mx.raw)
		}
		if hasReq && hasDef {
			above("defaultRequest", k, req, def, req.raw+" is above the default limit "+def.raw)
		}
		if hasDef && hasMin {
			above("default", k, mn, def, def.raw+" is below min "+mn.raw)
		}
		if hasDef && hasMax {
			above("default", k, def, mx, def.raw+" is above max "+mx.raw)
		}
		if hasRatio {
			if ratio.q.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				c.fail(p.Child("maxLimitRequestRatio").Child(k), "%s is below 1", ratio.raw)
			} else if hasMin && hasMax {
				c.ratioWithinRange(p.Child("maxLimitRequestRatio").Child(k), ratio, mn, mx)
			}
		}
		if hasDef && hasReq && !(isNativeResource(k) && !strings.HasPrefix(k, "hugepages-")) && def.q.Cmp(req.q) != 0 {
			c.fail(p.Child("defaultRequest").Child(k), "%s must equal the default %s: %s cannot be overcommitted", req.raw, def.raw, k)
		}
	}
}

// ratioWithinRange mirrors the API server's check that maxLimitRequestRatio is at most
// max/min, computed as it computes it.
func (c checker) ratioWithinRange(p Path, ratio, mn, mx limitValue) {
	ratioValue := float64(ratio.q.Value())
	minValue, maxValue := mn.q.Value(), mx.q.Value()
	if ratio.q.Value() < resource.MaxMilliValue && minValue < resource.MaxMilliValue && maxValue < resource.MaxMilliValue {
		ratioValue = float64(ratio.q.MilliValue()) / 1000
		minValue, maxValue = mn.q.MilliValue(), mx.q.MilliValue()
	}
	if limit := float64(maxValue) / float64(minValue); ratioValue > limit {
		c.fail(p, "%s is above max/min = %g (%s/%s)", ratio.raw, limit, mx.raw, mn.raw)
	}
}
