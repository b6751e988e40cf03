package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Model is a cluster's validated configuration: the merge of its layers with variables
// substituted and defaults applied, ready to render.
type Model struct {
	Cluster  Cluster
	Settings Settings
	// Layers are the merged layers, lowest first, with the versions they were read at.
	Layers []LayerVersion

	Namespaces                  []Namespace
	Roles                       []Role
	RoleBindings                []RoleBinding
	ClusterRoles                []ClusterRole
	ClusterRoleBindings         []ClusterRoleBinding
	NetworkPolicies             []NetworkPolicy
	IPPools                     []IPPool
	CalicoNetworkPolicies       []CalicoNetworkPolicy
	CalicoGlobalNetworkPolicies []CalicoGlobalNetworkPolicy
	BGPConfigurations           []BGPConfiguration
	Addons                      []Addon
	// Manifests are the extra objects, as written.
	Manifests []map[string]any
	Patches   []Patch

	// origins says which entry renders each object, and which layers wrote it (Origin).
	origins map[objectID]origin
}

// LayerVersion is a layer reference with the version it was read at (0 for files).
type LayerVersion struct {
	Ref     LayerRef
	Version int
}

// ErrNoClusterRecord is returned when no layer holds the record of the requested cluster.
var ErrNoClusterRecord = errors.New("no cluster record")

// Resolve merges layers (lowest first) and turns the result into the validated Model of the
// named cluster. A configuration with problems yields a *ValidationError listing every one
// of them, each with the layer that set the offending value.
func Resolve(layers []Layer, cluster string) (*Model, error) {
	m, err := Merge(layers)
	if err != nil {
		return nil, err
	}
	return m.Resolve(cluster)
}

// Resolve turns the merge into the validated Model of the named cluster.
func (m *Merged) Resolve(cluster string) (*Model, error) {
	model, _, err := m.resolve(cluster)
	return model, err
}

// resolve is Resolve that also returns the resolver, whose claims say which entry renders
// which object (provenance uses them).
func (m *Merged) resolve(cluster string) (*Model, *resolver, error) {
	r := &resolver{merged: m}
	model := &Model{}
	for _, l := range m.Layers {
		model.Layers = append(model.Layers, LayerVersion{Ref: l.Ref, Version: l.Version})
	}

	// The cluster record and settings come first: variables depend on them.
	var clusterEntry *Entry
	for i := range m.Entries {
		e := &m.Entries[i]
		switch {
		case e.Kind == KindCluster && e.Key == cluster:
			clusterEntry = e
		case e.Kind == KindCluster:
			r.problem(e, nil, "a cluster record for %q does not belong in the configuration of cluster %q", e.Key, cluster)
		case e.Kind == KindSettings:
			r.decodeEntry(e, e.Body, &model.Settings)
		}
	}
	if clusterEntry == nil {
		return nil, nil, fmt.Errorf("%w for %q: the cluster/%s layer must hold a cluster record (environment, region)", ErrNoClusterRecord, cluster, cluster)
	}
	var problems []decodeProblem
	model.Cluster, problems = decodeCluster(clusterEntry)
	r.report(clusterEntry, problems)
	vars := NewVariables(model.Cluster, model.Settings.Vars)
	unusable := unusableVariables(model.Cluster)

	r.checkCluster(clusterEntry, &model.Cluster)
	r.checkSettings(model)
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Kind == KindCluster || e.Kind == KindSettings {
			continue
		}
		body := e.Body
		if !e.noRefs && containsRef(body) {
			sub, _ := vars.substitute(body, nil, unusable, func(p Path, err error) {
				var bad *unusableVariableError
				if !errors.As(err, &bad) {
					r.problem(e, p, "%v", err)
				}
				// The string is left unexpanded: what its field's checks would say of it
				// is this problem again.
				r.settle(e, p)
			})
			body = sub.(map[string]any)
		}
		spec, ok := lookupKind(e.Kind)
		if !ok || spec.resolve == nil {
			r.problem(e, nil, "unknown entry kind %q", e.Kind)
			continue
		}
		spec.resolve(checker{r: r, e: e}, body, model)
	}
	r.checkOverlappingPools(model)
	if len(r.problems) > 0 {
		return nil, nil, &ValidationError{Problems: sortProblems(r.problems)}
	}
	model.setOrigins(r)
	return model, r, nil
}

// resolver collects the problems of one Resolve.
type resolver struct {
	merged   *Merged
	problems []FieldError
	// claims maps each rendered object's identity to the entry that renders it.
	claims map[objectID]claim
	// settled holds the fields (entry ID and path) whose problem is already reported, or
	// reported elsewhere: no other problem is reported at them.
	settled map[string]bool
}

func settledKey(e *Entry, p Path) string { return e.ID() + "\x00" + p.String() }

// settle marks a field whose problem is reported.
func (r *resolver) settle(e *Entry, p Path) {
	if r.settled == nil {
		r.settled = map[string]bool{}
	}
	r.settled[settledKey(e, p)] = true
}

func (r *resolver) problem(e *Entry, p Path, format string, args ...any) {
	if r.settled[settledKey(e, p)] {
		return
	}
	r.problems = append(r.problems, FieldError{
		Layer: r.merged.Origin(e.Kind, e.Key, p),
		Entry: entryPath(e.Kind, e.Key),
		Path:  p.String(),
		Msg:   fmt.Sprintf(format, args...),
	})
}

func (r *resolver) decodeEntry(e *Entry, body map[string]any, dst any) {
	var d decoder
	d.decode(body, reflect.ValueOf(dst).Elem())
	r.report(e, d.problems)
}

// report adds the decoding problems of an entry.
func (r *resolver) report(e *Entry, problems []decodeProblem) {
	for _, p := range problems {
		r.problem(e, p.path, "%s", p.msg)
	}
}

func decodeAs[T any](r *resolver, e *Entry, body map[string]any) T {
	var v T
	r.decodeEntry(e, body, &v)
	return v
}

// containsRef reports whether any string in v contains "${".
func containsRef(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "${")
	case map[string]any:
		for _, e := range t {
			if containsRef(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if containsRef(e) {
				return true
			}
		}
	}
	return false
}

// Default names.
const (
	DefaultArgoCDNamespace = "argocd"
	DefaultDenyPolicyName  = "default-deny"
	DefaultAddonProject    = "default"
	rbacAPIGroup           = "rbac.authorization.k8s.io"
	quotaNameSuffix        = "-quota"
	limitRangeNameSuffix   = "-limits"
)

// unusableVariables are the variables whose values the cluster record sets to something
// invalid (checkCluster reports it there): fields that use them are not reported again.
func unusableVariables(c Cluster) map[string]bool {
	out := map[string]bool{}
	if !validDNSLabel(c.Environment) {
		out["cluster.environment"], out["env"] = true, true
	}
	if !validDNSLabel(c.Region) {
		out["cluster.region"] = true
	}
	return out
}
