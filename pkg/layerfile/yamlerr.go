package layerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yamlv2 "go.yaml.in/yaml/v2"
)

// The YAML decoder (go.yaml.in/yaml/v3, through kyaml) reports a syntax error the parser
// finds (an unexpected token) at the line where the enclosing block or flow collection
// starts, counted from 0 — "line 1" for a mistake on line 3 inside a collection opened on
// line 2 — and at the mistake's line counted from 0 when that collection starts on the first
// line. Errors its scanner finds (a bad character, an unterminated quote) name the right line.
// syntaxError turns the parser's errors into the line of the mistake, plus the line where the
// collection it breaks starts; the line of the mistake comes from the v2 decoder, which
// reports the unexpected token's position.

// parserContexts maps each parser error to the collection it is found in ("" when the
// message alone does not tell).
var parserContexts = map[string]string{
	"did not find expected '-' indicator":    "block sequence",
	"did not find expected key":              "block mapping",
	"did not find expected ',' or ']'":       "flow sequence",
	"did not find expected ',' or '}'":       "flow mapping",
	"did not find expected node content":     "",
	"did not find expected <document start>": "",
	"did not find expected <stream-start>":   "",
	"found undefined tag handle":             "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found duplicate %TAG directive":         "",
}

var yamlErrorText = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.+)$`)

// parseYAMLError splits "yaml: line N: message" (line 0 when absent).
func parseYAMLError(err error) (line int, msg string, ok bool) {
	m := yamlErrorText.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, "", false
	}
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	return line, m[2], true
}

// syntaxError returns err, the v3 decoder's error on the YAML stream data, with the line of a
// parser error corrected (see above). Other errors are returned as they are.
func syntaxError(data []byte, err error) error {
	reported, msg, ok := parseYAMLError(err)
	if !ok {
		return err
	}
	collection, isParser := parserContexts[msg]
	if !isParser {
		return err // a scanner error: its line is right
	}
	// The v2 decoder reports the unexpected token's line, counted from 0 (0 on the first line).
	problem := -1
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	for {
		var doc any
		err2 := dec.Decode(&doc)
		if err2 == nil {
			continue
		}
		if !errors.Is(err2, io.EOF) {
			if l, m2, ok := parseYAMLError(err2); ok && m2 == msg {
				problem = l
			}
		}
		break
	}
	if problem < 0 {
		// The v2 decoder read the stream otherwise: name the collection's start, counted from 1.
		return fmt.Errorf("yaml: line %d: %s", reported+1, msg)
	}
	line := problem + 1
	where := fmt.Sprintf("line %d", line)
	if line > lineCount(data) {
		where = "at the end of the file"
	}
	text := fmt.Sprintf("yaml: %s: %s", where, msg)
	// reported is the collection's start counted from 0, unless that is the first line: then
	// it is the mistake's (reported+1 == line), and the start is not known.
	if start := reported + 1; collection != "" && start != line && start < line {
		text += fmt.Sprintf(" in the %s that starts at line %d", collection, start)
	}
	return errors.New(text)
}

// lineCount is the number of lines of data (a last line without a newline counts).
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
