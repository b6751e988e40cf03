package render_test

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"github.com/dynamo-cmp/dynamo-cmp/internal/configtest"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// BenchmarkRender measures merge → validate → render → encode for n namespaces with seven
// objects each, from layers already read (what generate does after its DynamoDB reads).
// Besides time and allocations it reports objects/op and the peak live heap seen during the
// run (peak-live-heap-MB, sampled every millisecond).
func BenchmarkRender(b *testing.B) {
	// The same garbage collector settings as the generate and render commands (see
	// internal/cli/gc.go).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(256 << 20))
	for _, n := range []int{100, 1000, 10000} {
		for _, format := range []string{render.FormatJSON, render.FormatYAML} {
			if format == render.FormatYAML && n > 1000 && testing.Short() {
				continue
			}
			b.Run(fmt.Sprintf("namespaces=%d/%s", n, format), func(b *testing.B) {
				runtime.GC()
				peak := samplePeakHeap()
				b.ReportAllocs()
				var cpu time.Duration
				b.ResetTimer()
				var objects, size int
				for i := 0; i < b.N; i++ {
					// The layers stand for what generate has just read from DynamoDB: built
					// outside the timer, and dropped once merged, as generate drops them.
					b.StopTimer()
					layers := configtest.Layers(n)
					cpu0 := cpuTime()
					b.StartTimer()
					model, err := validate.Resolve(layers, "bench")
					if err != nil {
						b.Fatal(err)
					}
					layers = nil
					out, err := render.Render(model, render.Options{Format: format})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := out.WriteTo(io.Discard); err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime() - cpu0
					objects, size = out.Len(), out.Size()
				}
				b.StopTimer()
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(objects), "objects/op")
				b.ReportMetric(float64(size)/1e6, "output-MB")
				b.ReportMetric(peak()/1e6, "peak-live-heap-MB")
				if objects != n*configtest.ObjectsPerNamespace {
					b.Fatalf("rendered %d objects, want %d", objects, n*configtest.ObjectsPerNamespace)
				}
			})
		}
	}
}

// samplePeakHeap samples the live heap (as measured by the last garbage collection) until the
// returned function is called, which reports the maximum seen.
func samplePeakHeap() func() float64 {
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > max.Load() {
				max.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(stop)
		wg.Wait()
		return float64(max.Load())
	}
}

// cpuTime is the user+system CPU time of the process so far: on a shared, busy machine it
// varies much less than wall time, which includes waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
