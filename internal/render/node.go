package render

import (
	"sort"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Builders for yaml nodes. Generators build objects node by node (kyaml's field-by-field
// Pipe(SetField ...) costs an order of magnitude more for the same objects); the filters and
// patches that run afterwards are ordinary kyaml filters.

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
}

func integer(i int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagInt, Value: strconv.FormatInt(i, 10)}
}

// float renders a number; whole numbers are written without a fraction (Calico's "order: 10").
func float(f float64) *yaml.Node {
	if f == float64(int64(f)) {
		return integer(int64(f))
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagFloat, Value: strconv.FormatFloat(f, 'g', -1, 64)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: strconv.FormatBool(b)}
}

// mapping is a mapping node under construction; fields keep the order they are added in.
type mapping struct{ n *yaml.Node }

func newMapping(capacity int) mapping {
	return mapping{&yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: make([]*yaml.Node, 0, 2*capacity)}}
}

func (m mapping) set(key string, v *yaml.Node) mapping {
	m.n.Content = append(m.n.Content, str(key), v)
	return m
}

// str sets a string field unless the value is empty.
func (m mapping) str(key, v string) mapping {
	if v != "" {
		m.set(key, str(v))
	}
	return m
}

// node sets a field unless v is nil.
func (m mapping) node(key string, v *yaml.Node) mapping {
	if v != nil {
		m.set(key, v)
	}
	return m
}

func (m mapping) strings(key string, v []string) mapping {
	if len(v) > 0 {
		m.set(key, stringList(v))
	}
	return m
}

func (m mapping) stringMap(key string, v map[string]string) mapping {
	if len(v) > 0 {
		m.set(key, stringMap(v))
	}
	return m
}

func stringList(v []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: make([]*yaml.Node, len(v))}
	for i, s := range v {
		n.Content[i] = str(s)
	}
	return n
}

func sequence(items []*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: items}
}

func emptyMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap} }

// stringMap renders a map with its keys sorted.
func stringMap(v map[string]string) *yaml.Node {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := newMapping(len(keys))
	for _, k := range keys {
		m.set(k, str(v[k]))
	}
	return m.n
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mergeStringMap adds entries to the mapping node under key of parent, creating it after
// "after" (or at the end) when missing. Existing keys keep their value unless overwrite is
// set; new keys are inserted in sorted position so output stays deterministic.
func mergeStringMap(parent *yaml.Node, key string, entries map[string]string, keys []string, overwrite bool) {
	if len(keys) == 0 {
		return
	}
	target := lookup(parent, key)
	if target == nil || target.Kind != yaml.MappingNode {
		target = emptyMap()
		parent.Content = append(parent.Content, str(key), target)
	}
	for _, k := range keys {
		setSorted(target, k, entries[k], overwrite)
	}
}

// setSorted sets key in a mapping whose keys are sorted, keeping them sorted.
func setSorted(m *yaml.Node, key, value string, overwrite bool) {
	i := 0
	for ; i+1 < len(m.Content); i += 2 {
		switch k := m.Content[i].Value; {
		case k == key:
			if overwrite {
				m.Content[i+1] = str(value)
			}
			return
		case k > key:
			m.Content = append(m.Content, nil, nil)
			copy(m.Content[i+2:], m.Content[i:])
			m.Content[i], m.Content[i+1] = str(key), str(value)
			return
		}
	}
	m.Content = append(m.Content, str(key), str(value))
}
