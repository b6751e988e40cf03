package policy_test

import (
	"fmt"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"github.com/dynamo-cmp/dynamo-cmp/internal/configtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// BenchmarkChecker measures what judging every object costs a render: the same resolve and
// render of n namespaces (seven objects each) without a checker, and with the default
// policy's checker (what generate runs).
func BenchmarkChecker(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, checked := range []bool{false, true} {
			b.Run(fmt.Sprintf("namespaces=%d/checked=%t", n, checked), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					layers := configtest.Layers(n)
					b.StartTimer()
					model, err := validate.Resolve(layers, "bench")
					if err != nil {
						b.Fatal(err)
					}
					opts := render.Options{}
					if checked {
						opts.Checker = policy.NewChecker(nil, model)
					}
					if _, err := render.Render(model, opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
