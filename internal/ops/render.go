package ops

import (
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"
)

// Step is told when Render finishes a stage: "merge" (with the number of merged entries),
// "validate" and "render" (with the number of objects and bytes). generate logs them.
type Step func(stage string, args ...any)

// Render is the one way from a cluster's layers (lowest first, as the store reads them) to
// its manifests: merge, resolve and validate, then render, every rendered object judged by
// the policies of the layers that wrote it (policies: those stored; none gives every layer
// the default policy). generate, render, config render/validate/diff and the publish checks
// all go through it. step, when not nil, is told when each stage ends. The layers are not
// kept: once the model is resolved the raw entries can be collected while the manifests
// render.
func Render(layers []config.Layer, cluster string, policies policy.Set, opts render.Options, step Step) (*render.Manifests, error) {
	merged, err := merge.Merge(layers)
	if err != nil {
		return nil, err
	}
	if step != nil {
		step("merge", "entries", len(merged.Entries))
	}
	model, err := validate.ResolveMerged(merged, cluster)
	if err != nil {
		return nil, err
	}
	merged = nil // the model has what rendering needs; let the raw items go
	if step != nil {
		step("validate")
	}
	opts.Checker = policy.NewChecker(policies, model)
	out, err := render.Render(model, opts)
	if err != nil {
		return nil, err
	}
	if step != nil {
		step("render", "objects", out.Len(), "bytes", out.Size())
	}
	return out, nil
}
