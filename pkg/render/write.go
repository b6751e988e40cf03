package render

import (
	"bytes"
	"fmt"
	"math"
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
	out, err := appendJSON(dst, n)
	if err != nil {
		return dst, err
	}
	return append(out, '\n'), nil
}

func (jsonEncoder) separator() string { return "" }

// yamlEncoder writes each object with kyaml's encoder (go-yaml v3, two-space indent, compact
// sequences), separated by "---" lines: the stream people read.
type yamlEncoder struct {
	buf bytes.Buffer
	// nonString caches which string values a YAML 1.1 reader would take for something else.
	nonString map[string]bool
}

func (e *yamlEncoder) encode(dst []byte, n *yaml.Node) ([]byte, error) {
	e.quoteYAML11(n)
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

// quoteYAML11 double-quotes the string scalars that go-yaml v3 (YAML 1.2) would write plain
// but YAML 1.1 readers — sigs.k8s.io/yaml, hence kubectl and Argo CD — would read as another
// type: yes, on, n, 0x1F, 1_000 ... (the JSON stream needs no such care).
func (e *yamlEncoder) quoteYAML11(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style != 0 || n.ShortTag() != yaml.NodeTagString {
			return
		}
		if e.nonString == nil {
			e.nonString = map[string]bool{}
		}
		non, seen := e.nonString[n.Value]
		if !seen {
			non = yaml.IsValueNonString(n.Value)
			e.nonString[n.Value] = non
		}
		if non {
			n.Style = yaml.DoubleQuotedStyle
		}
	default:
		for _, c := range n.Content {
			e.quoteYAML11(c)
		}
	}
}

// appendJSON appends a yaml node tree as JSON. Rendered trees hold mappings with string keys,
// sequences and tagged scalars only (no anchors, aliases or merge keys), which map one to one
// onto JSON; anything else is an error rather than a guess.
func appendJSON(dst []byte, n *yaml.Node) ([]byte, error) {
	var err error
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return dst, fmt.Errorf("cannot encode a document with %d nodes as JSON", len(n.Content))
		}
		return appendJSON(dst, n.Content[0])
	case yaml.MappingNode:
		dst = append(dst, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return dst, fmt.Errorf("line %d: cannot encode a non-scalar map key as JSON", k.Line)
			}
			dst = appendJSONString(dst, k.Value)
			dst = append(dst, ':')
			if dst, err = appendJSON(dst, n.Content[i+1]); err != nil {
				return dst, err
			}
		}
		dst = append(dst, '}')
	case yaml.SequenceNode:
		dst = append(dst, '[')
		for i, c := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, c); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	case yaml.ScalarNode:
		return appendJSONScalar(dst, n), nil
	default:
		return dst, fmt.Errorf("line %d: cannot encode a YAML alias as JSON", n.Line)
	}
	return dst, nil
}

func appendJSONScalar(dst []byte, n *yaml.Node) []byte {
	switch n.ShortTag() {
	case yaml.NodeTagString:
		return appendJSONString(dst, n.Value)
	case yaml.NodeTagBool:
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return strconv.AppendBool(dst, b)
		}
	case yaml.NodeTagInt:
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return strconv.AppendInt(dst, i, 10)
		}
	case yaml.NodeTagFloat:
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.AppendFloat(dst, f, 'g', -1, 64)
		}
	case yaml.NodeTagNull:
		return append(dst, "null"...)
	}
	// Other tags, and YAML 1.1 spellings such as yes/no or 0x1F that do not parse, are
	// written as the string they are.
	return appendJSONString(dst, n.Value)
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the bytes a JSON string holds as they are: printable ASCII but '"', '\\'
// and DEL.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString quotes s for a stream Argo CD reads: as encoding/json does (without HTML
// escaping: control characters, quote and backslash escaped, invalid UTF-8 as U+FFFD,
// U+2028/2029 escaped), and also escaping DEL, the C1 controls U+0080-U+009F and U+FFFE/U+FFFF,
// which Argo CD's YAML reader of the stream refuses or folds into spaces when they are raw.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	for i < len(s) && plainJSON[s[i]] {
		i++
	}
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if plainJSON[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' || r >= 0x80 && r <= 0x9F || r == 0xFFFE || r == 0xFFFF {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
