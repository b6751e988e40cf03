package render

import (
	"maps"
	"slices"
	"strconv"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Builders for yaml nodes. Generators build objects node by node (kyaml's field-by-field
// Pipe(SetField ...) costs an order of magnitude more for the same objects); the filters and
// patches that run afterwards are ordinary kyaml filters.

// builder allocates the nodes of generated objects from slabs: one allocation per few hundred
// nodes instead of one per node. Objects are encoded and dropped one at a time, so a slab
// lives only as long as the few objects built from it.
//
// String scalars (map keys such as "apiVersion", and repeated values such as "v1" or "get")
// are shared between the objects of one render. Sharing is safe because the only change made
// to a scalar node in place depends on its value alone: the YAML writer double-quotes a string
// scalar that YAML 1.1 would read as another type (write.go, quoteYAML11), which gives every
// object sharing the node the same, right, style. No filter changes a scalar node: a patch
// works on a deep copy of its target.
type builder struct {
	nodes   []yaml.Node
	ptrs    []*yaml.Node
	strings map[string]*yaml.Node
	// shared holds the cached string nodes in slabs of their own: a cached node in an
	// object's slab would keep that whole slab alive for the rest of the render.
	shared []yaml.Node
}

const slabSize = 512

func (b *builder) node(kind yaml.Kind, tag, value string) *yaml.Node {
	if len(b.nodes) == 0 {
		b.nodes = make([]yaml.Node, slabSize)
	}
	n := &b.nodes[0]
	b.nodes = b.nodes[1:]
	n.Kind, n.Tag, n.Value = kind, tag, value
	return n
}

// content returns an empty slice with room for n nodes; appending beyond that reallocates
// rather than overwriting a neighbour.
func (b *builder) content(n int) []*yaml.Node {
	if n > slabSize/4 {
		return make([]*yaml.Node, 0, n)
	}
	if len(b.ptrs) < n {
		b.ptrs = make([]*yaml.Node, slabSize)
	}
	c := b.ptrs[:0:n]
	b.ptrs = b.ptrs[n:]
	return c
}

func (b *builder) str(s string) *yaml.Node {
	if n, ok := b.strings[s]; ok {
		return n
	}
	if b.strings == nil {
		b.strings = make(map[string]*yaml.Node, 256)
	}
	if len(b.shared) == 0 {
		b.shared = make([]yaml.Node, slabSize)
	}
	n := &b.shared[0]
	b.shared = b.shared[1:]
	n.Kind, n.Tag, n.Value = yaml.ScalarNode, yaml.NodeTagString, s
	b.strings[s] = n
	return n
}

func (b *builder) integer(i int64) *yaml.Node {
	return b.node(yaml.ScalarNode, yaml.NodeTagInt, strconv.FormatInt(i, 10))
}

// float renders a number; whole numbers are written without a fraction (Calico's "order: 10").
func (b *builder) float(f float64) *yaml.Node {
	if f == float64(int64(f)) {
		return b.integer(int64(f))
	}
	return b.node(yaml.ScalarNode, yaml.NodeTagFloat, strconv.FormatFloat(f, 'g', -1, 64))
}

func (b *builder) boolean(v bool) *yaml.Node {
	return b.node(yaml.ScalarNode, yaml.NodeTagBool, strconv.FormatBool(v))
}

// mapping is a mapping node under construction; fields keep the order they are added in.
type mapping struct {
	n *yaml.Node
	b *builder
}

func (b *builder) mapping(capacity int) mapping {
	n := b.node(yaml.MappingNode, yaml.NodeTagMap, "")
	n.Content = b.content(2 * capacity)
	return mapping{n: n, b: b}
}

func (m mapping) set(key string, v *yaml.Node) mapping {
	m.n.Content = append(m.n.Content, m.b.str(key), v)
	return m
}

// str sets a string field unless the value is empty.
func (m mapping) str(key, v string) mapping {
	if v != "" {
		m.set(key, m.b.str(v))
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
		m.set(key, m.b.stringList(v))
	}
	return m
}

func (m mapping) stringMap(key string, v map[string]string) mapping {
	if len(v) > 0 {
		m.set(key, m.b.stringMap(v))
	}
	return m
}

func (b *builder) stringList(v []string) *yaml.Node {
	n := b.node(yaml.SequenceNode, yaml.NodeTagSeq, "")
	n.Content = b.content(len(v))
	for _, s := range v {
		n.Content = append(n.Content, b.str(s))
	}
	return n
}

func (b *builder) sequence(items []*yaml.Node) *yaml.Node {
	n := b.node(yaml.SequenceNode, yaml.NodeTagSeq, "")
	n.Content = items
	return n
}

func (b *builder) emptyMap() *yaml.Node { return b.node(yaml.MappingNode, yaml.NodeTagMap, "") }

// stringMap renders a map with its keys sorted.
func (b *builder) stringMap(v map[string]string) *yaml.Node {
	keys := slices.AppendSeq(make([]string, 0, len(v)), maps.Keys(v)) // sized: one allocation per object
	slices.Sort(keys)
	m := b.mapping(len(keys))
	for _, k := range keys {
		m.set(k, b.str(v[k]))
	}
	return m.n
}

// str and emptyMap allocate single nodes for the filters, which add a few nodes to objects
// they did not build.
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: s}
}

func emptyMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap} }

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

// pair is a key and value node to set in a mapping.
type pair struct{ key, value *yaml.Node }

// pairs turns a string map into scalar node pairs sorted by key. Filters build them once and
// set the same (never modified) nodes in every object.
func pairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{str(k), str(m[k])})
	}
	return out
}

// mergePairs adds pairs to the mapping under key of parent, creating it when missing. Existing
// keys keep their value unless overwrite is set; new keys are inserted in sorted position so
// the output stays deterministic.
func mergePairs(parent *yaml.Node, key string, ps []pair, overwrite bool) {
	if len(ps) == 0 {
		return
	}
	target := lookup(parent, key)
	if target == nil || target.Kind != yaml.MappingNode {
		target = emptyMap()
		parent.Content = append(parent.Content, str(key), target)
	}
	for _, p := range ps {
		setSorted(target, p, overwrite)
	}
}

// setSorted sets a pair in a mapping whose keys are sorted, keeping them sorted.
func setSorted(m *yaml.Node, p pair, overwrite bool) {
	key := p.key.Value
	i := 0
	for ; i+1 < len(m.Content); i += 2 {
		switch k := m.Content[i].Value; {
		case k == key:
			if overwrite {
				m.Content[i+1] = p.value
			}
			return
		case k > key:
			m.Content = append(m.Content, nil, nil)
			copy(m.Content[i+2:], m.Content[i:])
			m.Content[i], m.Content[i+1] = p.key, p.value
			return
		}
	}
	m.Content = append(m.Content, p.key, p.value)
}
