package render

import "sigs.k8s.io/kustomize/kyaml/yaml"

// Value is a read-only view of a rendered object, or of a part of one: a map, a list, a
// scalar, or nothing (the zero Value). A Checker reads the objects it is shown through it,
// without copying them.
type Value struct{ n *yaml.Node }

// Exists reports whether the value is there (Get of an absent key gives one that is not).
func (v Value) Exists() bool { return v.n != nil }

// Get returns the value of a key of a map; nothing when v is not a map or has no such key.
func (v Value) Get(key string) Value {
	if v.n == nil || v.n.Kind != yaml.MappingNode {
		return Value{}
	}
	for i := 0; i+1 < len(v.n.Content); i += 2 {
		if v.n.Content[i].Value == key {
			return Value{v.n.Content[i+1]}
		}
	}
	return Value{}
}

// Text returns a scalar's text as written in YAML (port 80 is "80"); "" for a map, a list or
// nothing.
func (v Value) Text() string {
	if v.n == nil || v.n.Kind != yaml.ScalarNode {
		return ""
	}
	return v.n.Value
}

// Len is the number of elements of a list; 0 for anything else.
func (v Value) Len() int {
	if v.n == nil || v.n.Kind != yaml.SequenceNode {
		return 0
	}
	return len(v.n.Content)
}

// Index returns the i-th element of a list (0 <= i < Len).
func (v Value) Index(i int) Value { return Value{v.n.Content[i]} }
