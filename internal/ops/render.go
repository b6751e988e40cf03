package ops

import (
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Step is told when Render finishes a stage: "merge" (with the number of merged entries),
// "validate" and "render" (with the number of objects and bytes). generate logs them.
type Step = render.Step

// Render is the one way from a cluster's layers (lowest first, as the store reads them) to
// its manifests: render.Layers (merge, resolve and validate, then render), every rendered
// object judged by the policies of the layers that wrote it (policies: those stored; none
// gives every layer the default policy). generate, config render/validate/diff and the
// publish checks all go through it; offline `dynamo-cmp render` calls render.Layers with the
// same checker, and links no store code. step, when not nil, is told when each stage ends.
func Render(layers []config.Layer, cluster string, policies policy.Set, opts render.Options, step Step) (*render.Manifests, error) {
	return render.Layers(layers, cluster, render.LayersOptions{Options: opts, CheckerFor: policy.CheckerFor(policies), Step: step})
}
