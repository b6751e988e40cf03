package render

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Formats the writers support.
const (
	FormatJSON = "json"
	FormatYAML = "yaml"
)

// encoder turns one object into bytes.
type encoder interface {
	encode(dst []byte, n *yaml.Node) ([]byte, error)
	// separator goes between two encoded objects.
	separator() string
}

func newEncoder(format string) (encoder, error) {
	switch format {
	case FormatJSON, "":
		return jsonEncoder{}, nil
	case FormatYAML:
		return &yamlEncoder{}, nil
	default:
		return nil, fmt.Errorf("unknown output format %q (json or yaml)", format)
	}
}

// jsonEncoder writes one compact JSON object per line, which Argo CD reads as it reads a YAML
// stream and which costs a fraction of YAML to produce. kyaml has no direct node-to-JSON
// encoder (RNode.MarshalJSON goes through YAML text and a map), so appendJSON walks the node.
type jsonEncoder struct{}

func (jsonEncoder) encode(dst []byte, n *yaml.Node) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := appendJSON(buf, n); err != nil {
		return dst, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (jsonEncoder) separator() string { return "" }

// yamlEncoder writes each object with kyaml's encoder (go-yaml v3, two-space indent, compact
// sequences), separated by "---" lines: the stream people read.
type yamlEncoder struct{ buf bytes.Buffer }

func (e *yamlEncoder) encode(dst []byte, n *yaml.Node) ([]byte, error) {
	e.buf.Reset()
	enc := yaml.NewEncoder(&e.buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(n); err != nil {
		return dst, err
	}
	if err := enc.Close(); err != nil {
		return dst, err
	}
	return append(dst, e.buf.Bytes()...), nil
}

func (*yamlEncoder) separator() string { return "---\n" }

// appendJSON writes a yaml node tree as JSON. Rendered trees hold mappings with string keys,
// sequences and tagged scalars only (no anchors, aliases or merge keys), which map one to one
// onto JSON; anything else is an error rather than a guess.
func appendJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("cannot encode a document with %d nodes as JSON", len(n.Content))
		}
		return appendJSON(buf, n.Content[0])
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: cannot encode a non-scalar map key as JSON", k.Line)
			}
			appendJSONString(buf, k.Value)
			buf.WriteByte(':')
			if err := appendJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return appendJSONScalar(buf, n)
	default:
		return fmt.Errorf("line %d: cannot encode a YAML alias as JSON", n.Line)
	}
	return nil
}

func appendJSONScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case yaml.NodeTagString:
		appendJSONString(buf, n.Value)
	case yaml.NodeTagBool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			// YAML 1.1 spellings (yes/no/on/off) come back as their string.
			appendJSONString(buf, n.Value)
			return nil
		}
		buf.WriteString(strconv.FormatBool(b))
	case yaml.NodeTagInt:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			appendJSONString(buf, n.Value)
			return nil
		}
		buf.WriteString(strconv.FormatInt(i, 10))
	case yaml.NodeTagFloat:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			appendJSONString(buf, n.Value)
			return nil
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case yaml.NodeTagNull:
		buf.WriteString("null")
	default:
		appendJSONString(buf, n.Value)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does (without HTML escaping): control
// characters, quote and backslash are escaped, invalid UTF-8 becomes U+FFFD, and U+2028/2029
// are escaped.
func appendJSONString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch b {
			case '\\', '"':
				buf.WriteByte('\\')
				buf.WriteByte(b)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[b>>4])
				buf.WriteByte(hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}
