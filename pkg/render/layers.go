package render

import (
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
)

// Step is told when Layers finishes a stage: "merge" (with the number of merged entries),
// "validate" and "render" (with the number of objects and bytes).
type Step func(stage string, args ...any)

// LayersOptions are the options of Layers: Options, plus how to judge the objects and who
// to tell when each stage ends.
type LayersOptions struct {
	Options
	// CheckerFor, when set, returns the Checker of the resolved model (the policies of the
	// layers that wrote each object); it replaces Options.Checker.
	CheckerFor func(*config.Model) Checker
	// Step, when set, is told when each stage ends.
	Step Step
}

// Layers is the one way from a cluster's layers (lowest first, as SelectLayers returns them)
// to its manifests, as `dynamo-cmp generate` and `dynamo-cmp render` run it: merge, resolve
// and validate, then render. The layers are not kept: once the model is resolved the raw
// entries can be collected while the manifests render.
func Layers(layers []config.Layer, cluster string, opts LayersOptions) (*Manifests, error) {
	merged, err := merge.Merge(layers)
	if err != nil {
		return nil, err
	}
	if opts.Step != nil {
		opts.Step("merge", "entries", len(merged.Entries))
	}
	model, err := validate.ResolveMerged(merged, cluster)
	if err != nil {
		return nil, err
	}
	merged = nil // the model has what rendering needs; let the raw items go
	if opts.Step != nil {
		opts.Step("validate")
	}
	if opts.CheckerFor != nil {
		opts.Checker = opts.CheckerFor(model)
	}
	out, err := Render(model, opts.Options)
	if err != nil {
		return nil, err
	}
	if opts.Step != nil {
		opts.Step("render", "objects", out.Len(), "bytes", out.Size())
	}
	return out, nil
}
