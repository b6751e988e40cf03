package validate

import (
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
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

func (c checker) limitRange(p config.Path, l *config.LimitRange) {
	if l.Container == nil && l.Pod == nil && l.PersistentVolumeClaim == nil {
		c.fail(p, "needs container, pod or persistentVolumeClaim limits")
	}
	c.limitItem(p.Child("container"), "Container", l.Container)
	c.limitItem(p.Child("pod"), "Pod", l.Pod)
	c.limitItem(p.Child("persistentVolumeClaim"), "PersistentVolumeClaim", l.PersistentVolumeClaim)
}

// limitItem checks one item of spec.limits: resource names, quantities, and how min, max,
// default, defaultRequest and maxLimitRequestRatio relate.
func (c checker) limitItem(p config.Path, typ string, v *config.LimitValues) {
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
	for _, l := range lists {
		for k, raw := range l.m {
			if !c.resourceName(p, l.field, k) {
				continue
			}
			if msg := limitResourceProblem(typ, k); msg != "" {
				c.fail(p.Child(l.field).Child(k), "%s %s", msgfmt.QuoteShort(k), msg)
				continue
			}
			c.quantityValue(p, l.field, k, raw)
		}
	}
	// Relations, each reported where the API server reports it (values that are not
	// quantities were reported above and compare as unrelated). Walking each list's own keys
	// covers every pair without building sets.
	for k, mn := range v.Min {
		if mx, ok := v.Max[k]; ok && quantityAbove(mn, mx) {
			c.fail(p.Child("min").Child(k), "%s is above max %s", mn, mx)
		}
		if req, ok := v.DefaultRequest[k]; ok && quantityAbove(mn, req) {
			c.fail(p.Child("defaultRequest").Child(k), "%s is below min %s", req, mn)
		}
		if def, ok := v.Default[k]; ok && quantityAbove(mn, def) {
			c.fail(p.Child("default").Child(k), "%s is below min %s", def, mn)
		}
	}
	for k, req := range v.DefaultRequest {
		if mx, ok := v.Max[k]; ok && quantityAbove(req, mx) {
			c.fail(p.Child("defaultRequest").Child(k), "%s is above max %s", req, mx)
		}
		if def, ok := v.Default[k]; ok {
			if quantityAbove(req, def) {
				c.fail(p.Child("defaultRequest").Child(k), "%s is above the default limit %s", req, def)
			}
			// For GPUs, hugepages and other resources that cannot be overcommitted, the
			// default limit and request must match.
			if !overcommittable(k) && (quantityAbove(req, def) || quantityAbove(def, req)) {
				c.fail(p.Child("defaultRequest").Child(k), "%s must equal the default %s: %s cannot be overcommitted", req, def, k)
			}
		}
	}
	for k, def := range v.Default {
		if mx, ok := v.Max[k]; ok && quantityAbove(def, mx) {
			c.fail(p.Child("default").Child(k), "%s is above max %s", def, mx)
		}
	}
	for k, ratio := range v.MaxLimitRequestRatio {
		r, err := resource.ParseQuantity(ratio)
		if err != nil {
			continue
		}
		if r.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
			c.fail(p.Child("maxLimitRequestRatio").Child(k), "%s is below 1", ratio)
			continue
		}
		mn, hasMin := v.Min[k]
		mx, hasMax := v.Max[k]
		if hasMin && hasMax {
			c.ratioWithinRange(p.Child("maxLimitRequestRatio").Child(k), ratio, r, mn, mx)
		}
	}
}

// quantityAbove reports whether quantity a is greater than b (false when either is not a
// quantity).
func quantityAbove(a, b string) bool {
	if a == b {
		return false
	}
	qa, errA := resource.ParseQuantity(a)
	qb, errB := resource.ParseQuantity(b)
	return errA == nil && errB == nil && qa.Cmp(qb) > 0
}

// overcommittable mirrors IsOvercommitAllowed: native resources other than hugepages.
func overcommittable(name string) bool {
	return isNativeResource(name) && !strings.HasPrefix(name, "hugepages-")
}

// ratioWithinRange mirrors the API server's check that maxLimitRequestRatio is at most
// max/min, computed as it computes it.
func (c checker) ratioWithinRange(p config.Path, raw string, ratio resource.Quantity, minRaw, maxRaw string) {
	mn, err1 := resource.ParseQuantity(minRaw)
	mx, err2 := resource.ParseQuantity(maxRaw)
	if err1 != nil || err2 != nil {
		return
	}
	ratioValue := float64(ratio.Value())
	minValue, maxValue := mn.Value(), mx.Value()
	if ratio.Value() < resource.MaxMilliValue && minValue < resource.MaxMilliValue && maxValue < resource.MaxMilliValue {
		ratioValue = float64(ratio.MilliValue()) / 1000
		minValue, maxValue = mn.MilliValue(), mx.MilliValue()
	}
	if limit := float64(maxValue) / float64(minValue); ratioValue > limit {
		c.fail(p, "%s is above max/min = %g (%s/%s)", raw, limit, maxRaw, minRaw)
	}
}
