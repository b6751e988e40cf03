package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/serve"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// runServeLoad registers -clusters clusters, serves the ApplicationSet plugin generator API
// (serve's http.Handler on 127.0.0.1) and polls it from -pollers goroutines for -duration
// with the default cache TTL, then again with a TTL of 0 (a DynamoDB read per request).
func runServeLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve-load", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "DynamoDB Local endpoint (http://127.0.0.1:PORT)")
	clusters := fs.Int("clusters", 1000, "registered clusters")
	pollers := fs.Int("pollers", 20, "concurrent pollers")
	duration := fs.Duration("duration", 30*time.Second, "polling time per cache setting")
	_ = fs.Parse(args)
	if !strings.HasPrefix(*endpoint, "http://127.0.0.1:") {
		return fmt.Errorf("-endpoint: DynamoDB Local on 127.0.0.1 is required")
	}
	cfg := store.Config{
		Table: fmt.Sprintf("serve-bench-%d", time.Now().UnixNano()), Region: "us-east-1", Endpoint: *endpoint,
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "bench", SecretAccessKey: "bench"},
	}
	st, err := store.New(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := st.CreateTable(ctx); err != nil {
		return err
	}
	began := time.Now()
	if err := registerClusters(ctx, st, *clusters); err != nil {
		return err
	}
	fmt.Printf("### serve: the ApplicationSet generator API with %d registered clusters, %d concurrent pollers\n\n", *clusters, *pollers)
	fmt.Printf("Registering the clusters took %s. Machine: %s, %d CPUs (shared, DynamoDB Local on the same CPUs), %s.\n\n",
		time.Since(began).Round(time.Millisecond), cpuModel(), runtime.NumCPU(), runtime.Version())
	fmt.Println("| cache TTL | requests | failures | throughput | p50 | p90 | p99 | max | answer size |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, ttl := range []time.Duration{serve.DefaultCacheTTL, 0} {
		if err := pollGenerator(ctx, st, *clusters, *pollers, *duration, ttl); err != nil {
			return err
		}
	}
	return nil
}

// registerClusters publishes the global layer, two environments and n cluster layers.
func registerClusters(ctx context.Context, st *store.Store, n int) error {
	ns := func(name string) config.Entry {
		e, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": name})
		if err != nil {
			panic(err)
		}
		return e
	}
	for _, l := range []struct {
		ref   config.LayerRef
		entry config.Entry
	}{{config.GlobalLayer, ns("monitoring")}, {config.EnvLayer("dev"), ns("dev-tools")}, {config.EnvLayer("prod"), ns("prod-tools")}} {
		if _, err := st.Publish(ctx, store.PublishInput{Ref: l.ref, Entries: []config.Entry{l.entry}, Actor: "benchcmd"}); err != nil {
			return err
		}
	}
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("cluster-%04d", i)
				env := "dev"
				if i%2 == 1 {
					env = "prod"
				}
				rec, err := config.NewEntry(config.KindCluster, map[string]any{"name": name, "environment": env, "region": "eu-west-1",
					"labels": map[string]any{"tier": fmt.Sprint(i % 3)}, "vars": map[string]any{"account": "123456789012"}})
				if err == nil {
					_, err = st.Publish(ctx, store.PublishInput{Ref: config.ClusterLayer(name), Entries: []config.Entry{rec}, Actor: "benchcmd"})
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func pollGenerator(ctx context.Context, st *store.Store, clusters, pollers int, d, ttl time.Duration) error {
	const token = "bench-generator-token-0123456789abcdef"
	srv, err := serve.New(serve.Options{Store: st, GeneratorToken: secret.Static(token), CacheTTL: ttl})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String() + serve.GetParamsPath
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: pollers}, Timeout: 30 * time.Second}
	body := []byte(`{"applicationSetName":"bootstrap","input":{"parameters":{}}}`)
	poll := func() ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
		}
		return b, err
	}
	first, err := poll()
	if err != nil {
		return err
	}
	var answer struct {
		Output struct {
			Parameters []json.RawMessage `json:"parameters"`
		} `json:"output"`
	}
	if err := json.Unmarshal(first, &answer); err != nil || len(answer.Output.Parameters) != clusters {
		return fmt.Errorf("the generator answered %d parameter sets (%v), want %d", len(answer.Output.Parameters), err, clusters)
	}

	var (
		mu       sync.Mutex
		walls    durations
		failures int
		sample   error
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range pollers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				b, err := poll()
				wall := time.Since(t0)
				if err == nil && !bytes.Equal(b, first) {
					err = errors.New("the answer changed")
				}
				mu.Lock()
				if err != nil {
					failures++
					sample = err
				} else {
					walls = append(walls, wall)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := len(walls) + failures
	label := ttl.String()
	if ttl == serve.DefaultCacheTTL {
		label += " (default)"
	}
	fmt.Printf("| %s | %d | %d | %.0f req/s | %s | %s | %s | %s | %.0f KB |\n", label, total, failures, float64(total)/elapsed.Seconds(),
		ms(walls.quantile(0.5)), ms(walls.quantile(0.9)), ms(walls.quantile(0.99)), ms(walls.quantile(1)), float64(len(first))/1e3)
	if failures > 0 {
		return fmt.Errorf("%d of %d requests failed, e.g. %v", failures, total, sample)
	}
	return nil
}
