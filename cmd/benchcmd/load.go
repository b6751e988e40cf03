package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// runLoad runs -procs generate processes at a time for -duration, as a busy repo-server
// does, and reports latency percentiles and failures. Every run must print the reference
// stream byte for byte and exit 0; anything else is a failure.
func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var c commonFlags
	c.register(fs, true)
	procs := fs.Int("procs", 50, "concurrent generate processes")
	duration := fs.Duration("duration", 60*time.Second, "how long to keep starting processes")
	kind := fs.String("request", reqPinned, "pinned or latest")
	_ = fs.Parse(args)
	if err := c.check(); err != nil {
		return err
	}
	dir, cleanup, err := c.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	fx, err := newFixture(ctx, c.endpoint, c.namespaces, dir)
	if err != nil {
		return err
	}
	env := fx.generateEnv(*kind, c.endpoint)
	ref, err := measure(ctx, env, c.bin, "generate")
	if err != nil || ref.code != 0 {
		return fmt.Errorf("reference generate: exit %d, %v: %s", ref.code, err, ref.stderr)
	}
	load0 := loadAverage()

	var (
		mu       sync.Mutex
		walls    durations
		rss      []int64
		failures int
		samples  []string
	)
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range *procs {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := measure(ctx, env, c.bin, "generate")
				mu.Lock()
				switch {
				case err != nil || r.code != 0 || !bytes.Equal(r.stdout, ref.stdout):
					failures++
					if len(samples) < 5 {
						samples = append(samples, fmt.Sprintf("exit %d, %d bytes out (want %d), %v: %.300s", r.code, len(r.stdout), len(ref.stdout), err, r.stderr))
					}
				default:
					walls = append(walls, r.wall)
					rss = append(rss, r.maxRSS)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := len(walls) + failures

	fmt.Printf("### Load: %d concurrent generate processes for %s (%s request, %d namespaces)\n\n", *procs, *duration, *kind, c.namespaces)
	fmt.Printf("Machine: %s, %d CPUs (shared, DynamoDB Local on the same CPUs), %s, load average %s before and %s after.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), load0, loadAverage())
	fmt.Println("| runs | failures | throughput | p50 | p90 | p99 | max | peak RSS max |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| %d | %d | %.1f generate/s | %s | %s | %s | %s | %s |\n", total, failures, float64(total)/elapsed.Seconds(),
		ms(walls.quantile(0.5)), ms(walls.quantile(0.9)), ms(walls.quantile(0.99)), ms(walls.quantile(1)), mb(maxInt(rss)))
	for _, s := range samples {
		fmt.Printf("\nfailure: %s\n", s)
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d runs failed", failures, total)
	}
	return nil
}
