package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/provenance"
	"io"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// ExplainedObject is a rendered object with the origin of each of its leaf fields.
type ExplainedObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Patches name the patches that changed the object, in the order they applied.
	Patches []string                 `json:"patches,omitempty"`
	Fields  []provenance.FieldOrigin `json:"fields"`
}

// ID names the object as "Kind/namespace/name" ("Kind/name" when cluster-scoped).
func (o ExplainedObject) ID() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Explain renders a cluster's layers (lowest first) as generate does and says for every leaf field of every rendered object which layer and version set it. To
// tell what patches set, it renders once more without patches and once after each patch;
// none of this touches the generate path. keep, when not nil, selects the objects to explain.
func Explain(layers []config.Layer, cluster string, keep func(ExplainedObject) bool) ([]ExplainedObject, error) {
	prov, err := provenance.NewProvenance(layers, cluster)
	if err != nil {
		return nil, err
	}
	model := prov.Model()
	// stages[i] holds the objects rendered with the first i patches, by identity.
	stages := make([]map[string]map[string]any, len(model.Patches)+1)
	var order []string
	for i := range stages {
		m := *model
		m.Patches = model.Patches[:i]
		out, err := render.Render(&m, render.Options{Format: render.FormatJSON})
		if err != nil {
			return nil, err
		}
		objs, ids, err := decodeObjects(out.Bytes())
		if err != nil {
			return nil, err
		}
		stages[i], order = objs, ids
	}
	var result []ExplainedObject
	for _, id := range order {
		final := stages[len(stages)-1][id]
		eo := describeObject(final)
		if keep != nil && !keep(eo) {
			continue
		}
		objStages := make([]map[string]any, len(stages))
		for i, s := range stages {
			objStages[i] = s[id]
			if i > 0 && !sameObject(stages[i-1][id], s[id]) {
				eo.Patches = append(eo.Patches, model.Patches[i-1].Name)
			}
		}
		eo.Fields = prov.Explain(objStages)
		result = append(result, eo)
	}
	return result, nil
}

func describeObject(obj map[string]any) ExplainedObject {
	md, _ := obj["metadata"].(map[string]any)
	var eo ExplainedObject
	eo.APIVersion, _ = obj["apiVersion"].(string)
	eo.Kind, _ = obj["kind"].(string)
	eo.Namespace, _ = md["namespace"].(string)
	eo.Name, _ = md["name"].(string)
	return eo
}

func sameObject(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// decodeObjects reads a JSON stream of objects, keyed by apiVersion, kind, namespace and
// name, with the keys in stream order.
func decodeObjects(stream []byte) (map[string]map[string]any, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(stream))
	dec.UseNumber()
	objs := map[string]map[string]any{}
	var order []string
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return objs, order, nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("reading the rendered objects: %w", err)
		}
		eo := describeObject(obj)
		id := eo.APIVersion + " " + eo.ID()
		if _, dup := objs[id]; !dup {
			order = append(order, id)
		}
		objs[id] = obj
	}
}
