package config

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Scope is the precedence level of a layer: global < env < cluster.
type Scope int

const (
	// ScopeGlobal is the organisation-wide layer, named "global".
	ScopeGlobal Scope = iota
	// ScopeEnv is a per-environment layer, named "env/<environment>".
	ScopeEnv
	// ScopeCluster is a per-cluster layer, named "cluster/<name>".
	ScopeCluster
)

// LayerRef names a layer: "global", "env/<environment>" or "cluster/<name>".
type LayerRef struct {
	Scope Scope
	// Name is the environment or cluster name; empty for the global layer.
	Name string
}

// GlobalLayer is the reference of the global layer.
var GlobalLayer = LayerRef{Scope: ScopeGlobal}

// EnvLayer returns the reference of an environment layer.
func EnvLayer(env string) LayerRef { return LayerRef{Scope: ScopeEnv, Name: env} }

// ClusterLayer returns the reference of a cluster layer.
func ClusterLayer(name string) LayerRef { return LayerRef{Scope: ScopeCluster, Name: name} }

// String returns the layer's name as users write it.
func (l LayerRef) String() string {
	switch l.Scope {
	case ScopeEnv:
		return "env/" + l.Name
	case ScopeCluster:
		return "cluster/" + l.Name
	default:
		return "global"
	}
}

// ParseLayerRef parses "global", "env/<environment>" or "cluster/<name>". Environment and
// cluster names must be DNS-1123 labels (they end up in object names and DynamoDB keys).
func ParseLayerRef(s string) (LayerRef, error) {
	if s == "global" {
		return GlobalLayer, nil
	}
	scope, name, ok := strings.Cut(s, "/")
	var ref LayerRef
	switch {
	case ok && scope == "env":
		ref = EnvLayer(name)
	case ok && scope == "cluster":
		ref = ClusterLayer(name)
	default:
		return LayerRef{}, fmt.Errorf("layer %q: must be \"global\", \"env/<environment>\" or \"cluster/<name>\"", s)
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return LayerRef{}, fmt.Errorf("layer %q: %q is not a valid name: %s", s, name, strings.Join(msgs, "; "))
	}
	return ref, nil
}

// MarshalText implements encoding.TextMarshaler.
func (l LayerRef) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *LayerRef) UnmarshalText(b []byte) error {
	ref, err := ParseLayerRef(string(b))
	if err != nil {
		return err
	}
	*l = ref
	return nil
}

// Layer is one version of a layer: its reference, the version number it was published as
// (0 for layers read from files) and its entries.
type Layer struct {
	Ref     LayerRef
	Version int
	Entries []Entry
}

// SortLayerRefs orders items by their layer reference: global, env layers, cluster layers,
// each by name.
func SortLayerRefs[T any](items []T, ref func(T) LayerRef) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := ref(items[i]), ref(items[j])
		if a.Scope != b.Scope {
			return a.Scope < b.Scope
		}
		return a.Name < b.Name
	})
}
