package ops_test

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/configtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
)

// BenchmarkExplain measures config explain of every object of 100 namespaces (700 objects),
// from layers already read: the replayed merge, the renders and the attribution.
func BenchmarkExplain(b *testing.B) {
	layers := configtest.Layers(100)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		objs, err := ops.Explain(layers, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 700 {
			b.Fatalf("%d objects, want 700", len(objs))
		}
	}
}
