package config

import (
	"fmt"
)

// canonicalize rewrites the accepted shorthand forms of an entry body into its canonical form,
// so that layers written in different styles merge field by field:
//
//   - a namespace entry may name itself with "name" instead of "namespace";
//   - a flat resourceQuota ({"cpu": "4", "memory": "8Gi"}, the seed format) means its hard limits;
//   - defaultDeny: true|false means {enabled: true|false}.
func canonicalize(spec kindSpec, b map[string]any) (map[string]any, error) {
	if spec.kind != KindNamespace {
		return b, nil
	}
	if n, ok := b["name"]; ok {
		if ns, has := b["namespace"]; has && ns != n {
			return nil, fmt.Errorf("namespaces: an entry names itself both %v (name) and %v (namespace)", n, ns)
		}
		delete(b, "name")
		b["namespace"] = n
	}
	name, _ := b["namespace"].(string)
	if rq, ok := b["resourceQuota"].(map[string]any); ok {
		if err := canonicalQuota(rq); err != nil {
			return nil, fmt.Errorf("namespaces[%s].resourceQuota: %w", name, err)
		}
	}
	if dd, ok := b["defaultDeny"].(bool); ok {
		b["defaultDeny"] = map[string]any{"enabled": dd}
	}
	return b, nil
}

var quotaFields = map[string]bool{"name": true, "hard": true, "scopes": true, "scopeSelector": true, "$patch": true}

// canonicalQuota moves the flat seed form's resource names under "hard".
func canonicalQuota(rq map[string]any) error {
	var flat []string
	for k := range rq {
		if !quotaFields[k] {
			flat = append(flat, k)
		}
	}
	if len(flat) == 0 {
		return nil
	}
	if _, has := rq["hard"]; has {
		return fmt.Errorf("write resource limits either flat ({cpu: \"4\"}) or under \"hard\", not both")
	}
	hard := make(map[string]any, len(flat))
	for _, k := range flat {
		hard[k] = rq[k]
		delete(rq, k)
	}
	rq["hard"] = hard
	return nil
}
