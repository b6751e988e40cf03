package rollout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ParseStrategy reads one strategy from YAML or JSON, strictly, and checks it. Every problem
// is reported at once, one line each, naming the wave (counted from 1, as rollout status
// counts) and the field: unknown fields, values of the wrong type and what Validate finds.
// A YAML syntax error names its line. A file of several YAML documents is refused: a
// strategy file holds one strategy.
func ParseStrategy(data []byte) (Strategy, error) {
	var s Strategy
	root, err := strategyDocument(data)
	if err != nil {
		return s, err
	}
	d := &decoder{skip: map[string]bool{}}
	d.strategy(root, &s)
	return s, s.errorOf(append(d.problems, s.check(d.skip)...))
}

// maxSyntaxScan bounds the lines of a file whose syntax error ParseStrategy locates by
// parsing its prefixes (a strategy is at most a few hundred lines).
const maxSyntaxScan = 5000

// strategyDocument parses data into the node of its one document.
func strategyDocument(data []byte) (*yaml.Node, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the strategy is empty")
	}
	docs, err := documents(data)
	if err != nil && json.Valid(data) {
		// JSON escapes a slash as \/, which YAML's double-quoted strings do not know.
		docs, err = documents(unescapeJSONSlashes(data))
	}
	if err != nil {
		return nil, syntaxError(data, err)
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("the strategy is empty (the file holds only comments)")
	case 1:
		return docs[0], nil
	}
	lines := make([]string, len(docs))
	for i, d := range docs {
		lines[i] = strconv.Itoa(d.Line)
	}
	at := strings.Join(lines[:len(lines)-1], ", ") + " and " + lines[len(lines)-1]
	return nil, fmt.Errorf("the file holds %d strategies (YAML documents at lines %s); a strategy file holds one: put each in its own file", len(docs), at)
}

// documents parses a YAML stream into the nodes of its documents, leaving out empty ones (a
// leading or trailing "---", comments only).
func documents(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			continue
		}
		out = append(out, n)
	}
}

// yamlLine is the "line N: " go-yaml puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)

// syntaxError names the line of a YAML syntax error. go-yaml's own line is often wrong: it
// gives the line where the enclosing block or flow started, and for errors of its parser
// that line counted from 0. The line given is the first after the longest prefix of whole
// lines that parses: where the text stops being YAML.
func syntaxError(data []byte, err error) error {
	msg := yamlLine.ReplaceAllString(err.Error(), "")
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxSyntaxScan {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line := 1
	for k := len(lines) - 1; k >= 1; k-- {
		if _, err := documents(bytes.Join(lines[:k], nil)); err == nil {
			line = k + 1
			break
		}
	}
	return fmt.Errorf("line %d: %s", line, msg)
}

// unescapeJSONSlashes replaces the escape \/ in the strings of a valid JSON text by /.
func unescapeJSONSlashes(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\' && i+1 < len(data):
			if data[i+1] != '/' {
				out = append(out, c)
			}
			out = append(out, data[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		}
		out = append(out, c)
	}
	return out
}

// decoder reads a strategy from a YAML node, strictly, collecting every problem.
type decoder struct {
	problems []problem
	// skip lists the fields whose values could not be read (see Strategy.check).
	skip map[string]bool
}

func (d *decoder) fail(wave int, key, field, format string, args ...any) {
	d.skip[key] = true
	d.problems = append(d.problems, problem{wave: wave, field: field, msg: fmt.Sprintf(format, args...)})
}

// pair is a key of a mapping with its value.
type pair struct {
	key   string
	line  int
	value *yaml.Node
}

// pairs lists the keys of a mapping node in order, following aliases and merge keys ("<<",
// whose keys come after the mapping's own and never replace them); a key given twice is a
// problem of the wave (or strategy) at.
func (d *decoder) pairs(n *yaml.Node, wave int, at string) []pair {
	var out []pair
	seen := map[string]int{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			m := resolve(v)
			if m.Kind == yaml.SequenceNode {
				merged = append(merged, m.Content...)
			} else {
				merged = append(merged, m)
			}
			continue
		}
		if line, ok := seen[k.Value]; ok {
			d.fail(wave, at+fieldName(k.Value), fieldName(k.Value), "given twice (lines %d and %d)", line, k.Line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k.Value, line: k.Line, value: v})
	}
	for _, m := range merged {
		m = resolve(m)
		if m.Kind != yaml.MappingNode {
			continue
		}
		for _, p := range d.pairs(m, wave, at) {
			if _, ok := seen[p.key]; !ok {
				seen[p.key] = p.line
				out = append(out, p)
			}
		}
	}
	return out
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) strategy(n *yaml.Node, s *Strategy) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		for _, k := range []string{"name", "layers", "waves"} {
			d.skip[k] = true
		}
		d.fail(0, "", "", "a strategy is a mapping with name, layers and waves, not %s", describe(n))
		return
	}
	for _, p := range d.pairs(n, 0, "") {
		switch p.key {
		case "name":
			s.Name = d.str(p.value, 0, "name", "name")
		case "description":
			s.Description = d.str(p.value, 0, "description", "description")
		case "layers":
			s.Layers = d.layers(p.value)
		case "waves":
			d.waves(p.value, s)
		default:
			d.fail(0, "", fieldName(p.key), "unknown field (known fields: name, description, layers, waves)")
		}
	}
}

func (d *decoder) layers(n *yaml.Node) []string {
	n = resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		d.fail(0, "layers", "layers", "a list of layer patterns like [%s], not the string %q", n.Value, n.Value)
		return nil
	case n.Kind != yaml.SequenceNode:
		d.fail(0, "layers", "layers", "a list of layer patterns like [env/prod], not %s", describe(n))
		return nil
	}
	out := []string{}
	for i, item := range n.Content {
		if v := d.str(item, 0, "layers", fmt.Sprintf("layers: item %d", i+1)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) waves(n *yaml.Node, s *Strategy) {
	n = resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return
	case n.Kind != yaml.SequenceNode:
		d.fail(0, "waves", "waves", "a list of waves, not %s", describe(n))
		return
	}
	s.Waves = make([]Wave, len(n.Content))
	for i, item := range n.Content {
		d.wave(item, i+1, &s.Waves[i])
	}
}

// waveFields are the fields of a wave, in the order messages list them.
const waveFields = "name, labelSelector, namePattern, environment, percent, bake, maxFailures"

func (d *decoder) wave(n *yaml.Node, num int, w *Wave) {
	n = resolve(n)
	at := fmt.Sprintf("waves/%d", num)
	if n.Kind != yaml.MappingNode {
		d.fail(num, at, "", "a wave is a mapping of its fields (name, selectors, bake, maxFailures), not %s", describe(n))
		return
	}
	at += "/"
	for _, p := range d.pairs(n, num, at) {
		key := at + p.key
		switch p.key {
		case "name":
			w.Name = d.str(p.value, num, key, p.key)
		case "labelSelector":
			w.LabelSelector = d.str(p.value, num, key, p.key)
		case "namePattern":
			w.NamePattern = d.str(p.value, num, key, p.key)
		case "environment":
			w.Environment = d.str(p.value, num, key, p.key)
		case "percent":
			w.Percent = d.whole(p.value, num, key, p.key)
		case "maxFailures":
			w.MaxFailures = d.whole(p.value, num, key, p.key)
		case "bake":
			w.Bake = d.duration(p.value, num, key, p.key)
		default:
			d.fail(num, "", fieldName(p.key), "unknown field (known fields: %s)", waveFields)
		}
	}
}

// str reads a string; null is "".
func (d *decoder) str(n *yaml.Node, wave int, key, field string) string {
	n = resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		return n.Value
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return ""
	case n.Kind == yaml.ScalarNode:
		d.fail(wave, key, field, "%s is not a string; quote it: %q", describe(n), n.Value)
	default:
		d.fail(wave, key, field, "a string, not %s", describe(n))
	}
	return ""
}

// whole reads a whole number; null is 0.
func (d *decoder) whole(n *yaml.Node, wave int, key, field string) int {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!null":
			return 0
		case "!!int":
			var v int
			if err := n.Decode(&v); err == nil {
				return v
			}
			d.fail(wave, key, field, "%s is too large", n.Value)
			return 0
		case "!!float":
			var f float64
			if err := n.Decode(&f); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1e9 {
				return int(f)
			}
			d.fail(wave, key, field, "%s is not a whole number", n.Value)
			return 0
		case "!!str":
			if v, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
				d.fail(wave, key, field, "%q is a string, not a number; write %d without quotes", n.Value, v)
			} else {
				d.fail(wave, key, field, "%q is not a whole number", n.Value)
			}
			return 0
		}
	}
	d.fail(wave, key, field, "a whole number, not %s", describe(n))
	return 0
}

// duration reads a duration written like "10s" or "5m"; null is 0.
func (d *decoder) duration(n *yaml.Node, wave int, key, field string) Duration {
	n = resolve(n)
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return 0
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			d.fail(wave, key, field, "%q is not a duration (like \"10s\" or \"5m\")", n.Value)
			return 0
		}
		return Duration(v)
	case n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float"):
		d.fail(wave, key, field, "%s is not a duration; write it with a unit, like \"10s\" or \"5m\"", describe(n))
	default:
		d.fail(wave, key, field, "a duration like \"10s\" or \"5m\", not %s", describe(n))
	}
	return 0
}

// describe says what a node is, for messages: "a list", "the number 1.5".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "the string " + strconv.Quote(n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("the %s value %s", n.Tag, strconv.Quote(n.Value))
	}
	return "an unknown YAML node"
}

// fieldName is a key as messages show it: quoted unless it is a plain word.
func fieldName(key string) string {
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return strconv.Quote(key)
		}
	}
	if key == "" {
		return `""`
	}
	return key
}
