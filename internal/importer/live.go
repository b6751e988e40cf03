package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DefaultLiveKinds are the kinds a live import reads unless --kind says otherwise: those the
// layer model has typed entries for. Calico's are read where the API server serves them.
var DefaultLiveKinds = []string{
	"Namespace", "ResourceQuota", "LimitRange",
	"Role.rbac.authorization.k8s.io", "RoleBinding.rbac.authorization.k8s.io",
	"ClusterRole.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io",
	"NetworkPolicy.networking.k8s.io",
	"IPPool.projectcalico.org", "NetworkPolicy.projectcalico.org", "GlobalNetworkPolicy.projectcalico.org", "BGPConfiguration.projectcalico.org",
}

// LiveOptions choose what a live import reads.
type LiveOptions struct {
	// Kinds are "Kind" or "Kind.group"; empty reads DefaultLiveKinds.
	Kinds []string
	// Selector is a label selector (kubectl's -l syntax), passed to the API server.
	Selector string
}

// Reasons live objects lose fields, as the report names them.
const (
	DroppedStatus     = "status"
	DroppedServerMeta = "metadata the API server sets (uid, resourceVersion, generation, creationTimestamp, managedFields)"
	DroppedLastApply  = "the kubectl last-applied-configuration annotation"
	DroppedDefaulted  = "defaulted fields (set by no field manager)"
	DroppedSystem     = "objects the cluster makes itself (kube-* namespaces, system: RBAC, objects owned by another)"
)

// LastAppliedAnnotation is the annotation client-side kubectl apply keeps its input in.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// UsageError is a live import the command line asked wrongly for: a context the kubeconfig
// does not have, a kind the API server does not serve.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

type apiResource struct {
	group, version, name, kind string
	namespaced                 bool
}

// ReadLive reads the chosen kinds from the API server a kubeconfig context names, leaving out
// what the API server and controllers own (see Clean) and the objects the cluster makes
// itself. dropped counts what was left out, by reason.
func ReadLive(ctx context.Context, cluster string, kc *Kubeconfig, contextName string, o LiveOptions) ([]Object, map[string]int, error) {
	c, err := kc.client(contextName)
	if err != nil {
		return nil, nil, &UsageError{fmt.Errorf("cluster %s: %w", cluster, err)}
	}
	resources, err := c.discover(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster %s (context %s): discovery: %w", cluster, contextName, err)
	}
	kinds := o.Kinds
	optional := false
	if len(kinds) == 0 {
		kinds, optional = DefaultLiveKinds, true
	}
	var chosen []apiResource
	for _, k := range kinds {
		rs, err := pickKind(resources, k)
		if err != nil {
			if optional {
				continue
			}
			return nil, nil, &UsageError{fmt.Errorf("cluster %s (context %s): --kind %s: %w", cluster, contextName, k, err)}
		}
		chosen = append(chosen, rs)
	}
	dropped := map[string]int{}
	var objs []Object
	for _, r := range chosen {
		items, err := c.list(ctx, r, o.Selector)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster %s (context %s): list %s: %w", cluster, contextName, r.name, err)
		}
		for _, it := range items {
			if isSystemObject(it) {
				dropped[DroppedSystem]++
				continue
			}
			body, why := Clean(it)
			for _, w := range why {
				dropped[w]++
			}
			o := Object{Cluster: cluster, Source: "context " + contextName, Body: body}
			objs = append(objs, o)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].identity() < objs[j].identity() })
	return objs, dropped, nil
}

// discover lists the resources the API server serves, at each group's preferred version.
func (c *apiClient) discover(ctx context.Context) ([]apiResource, error) {
	type resourceList struct {
		GroupVersion string `json:"groupVersion"`
		Resources    []struct {
			Name       string   `json:"name"`
			Kind       string   `json:"kind"`
			Namespaced bool     `json:"namespaced"`
			Verbs      []string `json:"verbs"`
		} `json:"resources"`
	}
	var out []apiResource
	add := func(l resourceList) {
		group, version, ok := strings.Cut(l.GroupVersion, "/")
		if !ok {
			group, version = "", l.GroupVersion
		}
		for _, r := range l.Resources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") {
				continue
			}
			out = append(out, apiResource{group: group, version: version, name: r.Name, kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	var core resourceList
	if err := c.get(ctx, "/api/v1", &core); err != nil {
		return nil, err
	}
	add(core)
	var groups struct {
		Groups []struct {
			Name             string `json:"name"`
			PreferredVersion struct {
				GroupVersion string `json:"groupVersion"`
			} `json:"preferredVersion"`
		} `json:"groups"`
	}
	if err := c.get(ctx, "/apis", &groups); err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		var l resourceList
		if err := c.get(ctx, "/apis/"+g.PreferredVersion.GroupVersion, &l); err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Code == 503 {
				continue // an aggregated API that is down: its kinds are not importable now
			}
			return nil, err
		}
		add(l)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pickKind finds the resource of "Kind" or "Kind.group"; an unqualified kind several groups
// serve is an error asking for the group.
func pickKind(resources []apiResource, spec string) (apiResource, error) {
	kind, group, qualified := strings.Cut(spec, ".")
	var found []apiResource
	for _, r := range resources {
		if r.kind == kind && (!qualified || r.group == group) {
			found = append(found, r)
		}
	}
	switch {
	case len(found) == 0:
		return apiResource{}, fmt.Errorf("the API server serves no kind %s", spec)
	case len(found) > 1:
		var gs []string
		for _, r := range found {
			g := r.group
			if g == "" {
				g = `"" (core)`
			}
			gs = append(gs, g)
		}
		return apiResource{}, fmt.Errorf("%s is served by several API groups (%s): write it as Kind.group, e.g. %s.%s", kind, strings.Join(gs, ", "), kind, found[len(found)-1].group)
	}
	return found[0], nil
}

// list reads every object of a resource, in every namespace, page by page.
func (c *apiClient) list(ctx context.Context, r apiResource, selector string) ([]map[string]any, error) {
	base := "/apis/" + r.group + "/" + r.version + "/" + r.name
	apiVersion := r.group + "/" + r.version
	if r.group == "" {
		base, apiVersion = "/api/"+r.version+"/"+r.name, r.version
	}
	var out []map[string]any
	cont := ""
	for {
		q := url.Values{"limit": {"500"}}
		if selector != "" {
			q.Set("labelSelector", selector)
		}
		if cont != "" {
			q.Set("continue", cont)
		}
		var page struct {
			Items    []map[string]any `json:"items"`
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
		}
		if err := c.get(ctx, base+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			it = numbersToRaw(it).(map[string]any)
			it["apiVersion"], it["kind"] = apiVersion, r.kind
			n, err := config.NormalizeBody(it)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		if page.Metadata.Continue == "" {
			return out, nil
		}
		cont = page.Metadata.Continue
	}
}

// systemNamespaces exist in every cluster, made by the API server.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// isSystemObject reports whether the cluster made the object itself: its own namespaces and
// what lives in kube-*, the bootstrap RBAC (system:*, rbac-defaults), what every namespace
// gets (the kube-root-ca.crt ConfigMap, the default ServiceAccount), and anything owned by
// another object (a controller made it).
func isSystemObject(obj map[string]any) bool {
	md := asMap(obj["metadata"])
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	kind, _ := obj["kind"].(string)
	labels := asMap(md["labels"])
	switch {
	case kind == "Namespace" && (systemNamespaces[name] || strings.HasPrefix(name, "kube-")):
		return true
	case strings.HasPrefix(ns, "kube-"):
		return true
	case strings.HasPrefix(name, "system:") || labels["kubernetes.io/bootstrapping"] == "rbac-defaults":
		return true
	case md["ownerReferences"] != nil:
		return true
	case kind == "ConfigMap" && name == "kube-root-ca.crt", kind == "ServiceAccount" && name == "default":
		return true // every namespace gets them from kube-controller-manager
	}
	return false
}

// Clean leaves what a person wrote of a live object:
//
//   - an object kubectl applied client-side is its last-applied-configuration annotation (what
//     kubectl was given);
//   - otherwise, when the object has managedFields, the fields its server-side appliers own
//     (operation Apply; the API server's defaults belong to no applier), or, without any
//     applier, the fields of every manager that wrote it (status subresources excepted);
//   - always without status, the metadata the API server sets (uid, resourceVersion,
//     generation, creationTimestamp, managedFields), and the defaults it sets on every
//     Namespace (the kubernetes.io/metadata.name label, the kubernetes finalizer).
//
// It returns the object and the reasons fields were dropped.
func Clean(obj map[string]any) (map[string]any, []string) {
	out := config.DeepCopyMap(obj)
	var why []string
	md := asMap(out["metadata"])
	managed, _ := md["managedFields"].([]any)
	if ann := asMap(md["annotations"]); ann != nil {
		if last, ok := ann[LastAppliedAnnotation].(string); ok {
			var applied map[string]any
			if json.Unmarshal([]byte(last), &applied) == nil {
				if n, err := config.NormalizeBody(numbersToRaw(applied).(map[string]any)); err == nil && applied["kind"] == out["kind"] {
					why = append(why, DroppedLastApply)
					return withServerDefaultsDropped(dropNulls(n).(map[string]any), &why), why
				}
			}
			delete(ann, LastAppliedAnnotation)
			why = append(why, DroppedLastApply)
		}
	}
	if _, ok := out["status"]; ok {
		delete(out, "status")
		why = append(why, DroppedStatus)
	}
	server := false
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"} {
		if _, ok := md[f]; ok {
			delete(md, f)
			server = true
		}
	}
	if server {
		why = append(why, DroppedServerMeta)
	}
	if len(managed) > 0 {
		fs := map[string]any{}
		appliers := false
		for _, m := range managed {
			if op, _ := asMap(m)["operation"].(string); op == "Apply" {
				appliers = true
			}
		}
		for _, m := range managed {
			mm := asMap(m)
			op, _ := mm["operation"].(string)
			if sub, _ := mm["subresource"].(string); sub != "" || (appliers && op != "Apply") {
				continue
			}
			if f := asMap(mm["fieldsV1"]); f != nil {
				unionFields(fs, f)
			}
		}
		// Identity always stays.
		for _, f := range []string{"f:apiVersion", "f:kind"} {
			fs[f] = map[string]any{}
		}
		mfs := asMap(fs["f:metadata"])
		if mfs == nil {
			mfs = map[string]any{}
			fs["f:metadata"] = mfs
		}
		mfs["f:name"], mfs["f:namespace"] = map[string]any{}, map[string]any{}
		pruned, _ := pruneFields(out, fs)
		if !reflect.DeepEqual(pruned, out) {
			why = append(why, DroppedDefaulted)
		}
		out = pruned.(map[string]any)
	}
	return withServerDefaultsDropped(out, &why), why
}

// withServerDefaultsDropped removes what the API server sets on every Namespace, and empty
// label and annotation maps.
func withServerDefaultsDropped(out map[string]any, why *[]string) map[string]any {
	md := asMap(out["metadata"])
	if out["kind"] == "Namespace" && out["apiVersion"] == "v1" {
		labels := asMap(md["labels"])
		dropped := false
		if name, _ := md["name"].(string); labels != nil && labels["kubernetes.io/metadata.name"] == name {
			delete(labels, "kubernetes.io/metadata.name")
			dropped = true
		}
		if spec := asMap(out["spec"]); spec != nil && reflect.DeepEqual(spec["finalizers"], []any{"kubernetes"}) {
			delete(spec, "finalizers")
			if len(spec) == 0 {
				delete(out, "spec")
			}
			dropped = true
		}
		if dropped && !contains(*why, DroppedDefaulted) {
			*why = append(*why, DroppedDefaulted)
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		if m, ok := md[f].(map[string]any); ok && len(m) == 0 {
			delete(md, f)
		}
	}
	return out
}

// unionFields adds the field set b to a.
func unionFields(a, b map[string]any) {
	for k, v := range b {
		vm := asMap(v)
		am, ok := a[k].(map[string]any)
		if !ok {
			a[k] = config.DeepCopyMap(vm)
			if a[k] == nil {
				a[k] = map[string]any{}
			}
			continue
		}
		unionFields(am, vm)
	}
}

// pruneFields keeps the parts of v that the field set fs names (fieldsV1: "f:<field>",
// "k:<key of a list element>", "v:<value of a set element>", "i:<index>"; an empty set, or
// one holding only ".", keeps the value whole).
func pruneFields(v any, fs map[string]any) (any, bool) {
	if len(fs) == 0 || (len(fs) == 1 && fs["."] != nil) {
		return v, true
	}
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			sub, ok := fs["f:"+k]
			if !ok {
				continue
			}
			if p, keep := pruneFields(e, asMap(sub)); keep {
				out[k] = p
			}
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			sub, ok := listElementFields(fs, i, e)
			if !ok {
				continue
			}
			if p, keep := pruneFields(e, sub); keep {
				out = append(out, p)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, true
	default:
		return v, true
	}
}

// listElementFields finds the field set of a list element.
func listElementFields(fs map[string]any, i int, e any) (map[string]any, bool) {
	if sub, ok := fs[fmt.Sprintf("i:%d", i)]; ok {
		return asMap(sub), true
	}
	for k, sub := range fs {
		switch {
		case strings.HasPrefix(k, "v:"):
			var val any
			if json.Unmarshal([]byte(k[2:]), &val) == nil && jsonEqual(val, e) {
				return asMap(sub), true
			}
		case strings.HasPrefix(k, "k:"):
			var key map[string]any
			em, ok := e.(map[string]any)
			if !ok || json.Unmarshal([]byte(k[2:]), &key) != nil {
				continue
			}
			match := true
			for kk, kv := range key {
				if !jsonEqual(kv, em[kk]) {
					match = false
					break
				}
			}
			if match {
				return asMap(sub), true
			}
		}
	}
	return nil, false
}

// jsonEqual compares values by their JSON (numbers decoded differently compare equal).
func jsonEqual(a, b any) bool { return canonicalJSON(a) == canonicalJSON(b) }
