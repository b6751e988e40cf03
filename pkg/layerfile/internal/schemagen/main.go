// Command schemagen writes the JSON Schema (draft 2020-12) of layer files, generated from
// layerfile.Document and the config types its sections decode into (go generate in
// pkg/layerfile writes schema/layer.schema.json; a test keeps that file equal to its output).
//
// The reflection is github.com/invopop/jsonschema's; what it cannot know from the Go types is
// added here, as the parser and the strict decoder accept it: null for any field (a null value
// removes a key in a merge), numbers and booleans where a string is expected (cpu: 4), the
// "$patch" merge directive in any map, and the shorthand forms of namespace entries.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

// ID is the schema's $id: where editors find it (README and docs/config.md use it).
const ID = "https://raw.githubusercontent.com/dynamo-cmp/dynamo-cmp/main/schema/layer.schema.json"

func main() {
	out := flag.String("o", "", "output file (default: stdout)")
	flag.Parse()
	data, err := generate()
	if err == nil && *out != "" {
		err = os.WriteFile(*out, data, 0o644)
	} else if err == nil {
		_, err = os.Stdout.Write(data)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

// generate returns the schema as indented JSON with a final newline; equal types give equal
// bytes.
func generate() ([]byte, error) {
	r := &jsonschema.Reflector{
		// Nothing is required: a higher layer's entry sets only the fields it changes.
		RequiredFromJSONSchemaTags: true,
		ExpandedStruct:             true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeFor[config.IntOrString]() {
				return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "integer"}, {Type: "string"}}}
			}
			return nil
		},
	}
	s := r.Reflect(&layerfile.Document{})
	s.ID = ID
	s.Title = "dynamo-cmp layer file"
	s.Description = "A layer of dynamo-cmp configuration (global, env/<environment> or cluster/<name>); see docs/config.md."
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	loosen(doc)
	shorthands(doc)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// directive is the schema of the "$patch" merge directive.
func directive() map[string]any {
	return map[string]any{
		"enum":        []any{"delete", "replace"},
		"description": "merge directive: delete what lower layers defined here, or replace it instead of merging",
	}
}

// loosen walks a schema and accepts what the strict decoder accepts: null everywhere (a
// reference to a definition becomes "that or null"),
// numbers and booleans for strings, and "$patch" in every object with properties.
func loosen(s map[string]any) {
	switch t := s["type"].(type) {
	case string:
		if t == "string" {
			s["type"] = []any{"string", "number", "boolean", "null"}
		} else {
			s["type"] = []any{t, "null"}
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				loosen(m)
			}
		}
		props["$patch"] = directive()
	}
	if defs, ok := s["$defs"].(map[string]any); ok {
		for _, d := range defs {
			if m, ok := d.(map[string]any); ok {
				loosen(m)
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			loosen(m)
		}
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if list, ok := s[k].([]any); ok {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok {
					loosen(m)
				}
			}
		}
	}
	if ref, ok := s["$ref"]; ok {
		delete(s, "$ref")
		s["anyOf"] = []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}
	}
}

// shorthands adds the forms config.NewEntry rewrites into the canonical one (docs/config.md):
// a namespace entry named by "name", defaultDeny: true|false, and the flat resourceQuota of
// the seed format ({cpu: "4", memory: 8Gi}).
func shorthands(doc map[string]any) {
	defs := doc["$defs"].(map[string]any)
	ns := defs["Namespace"].(map[string]any)["properties"].(map[string]any)
	ns["name"] = map[string]any{"type": []any{"string", "null"}, "description": "the namespace's name (same as namespace)"}
	ns["defaultDeny"] = map[string]any{"anyOf": []any{ns["defaultDeny"], map[string]any{"type": "boolean"}}}
	rq := defs["ResourceQuota"].(map[string]any)
	rq["additionalProperties"] = map[string]any{"type": []any{"string", "number", "null"}, "description": "flat form: a resource's hard limit"}
}
