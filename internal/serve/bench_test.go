package serve

// Measurements (not assertions). Reproduce with
//
//	go test -run '^$' -bench . -benchtime 10x ./internal/serve                 # publish → served
//	go test -run '^$' -bench GetParams -cpu 1 -benchtime 3s ./internal/serve   # one core
//
// docs/serve.md quotes the figures.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

var (
	fleetOnce  sync.Once
	fleetStore *store.Store
	fleetCalls *store.CallCounter
	fleetSetup time.Duration
)

// thousandClusters registers 1,000 clusters in 3 environments (once per process).
func thousandClusters(b *testing.B) (*store.Store, *store.CallCounter) {
	fleetOnce.Do(func() {
		start := time.Now()
		st, calls := newStore(b)
		envs := []string{"dev", "test", "prod"}
		publish(b, st, config.GlobalLayer, namespaceEntry(b, "base"))
		for _, e := range envs {
			publish(b, st, config.EnvLayer(e), namespaceEntry(b, e+"-tools"))
		}
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c := clusterSpec{name: fmt.Sprintf("cluster-%04d", i), env: envs[i%3], region: "eu-west-1",
					labels: map[string]any{"tier": []string{"gold", "silver"}[i%2], "team": fmt.Sprintf("team-%d", i%10)},
					vars:   map[string]any{"account": "123456789012", "domain": fmt.Sprintf("c%04d.example.com", i)}}
				publish(b, st, config.ClusterLayer(c.name), clusterEntry(b, c))
			}()
		}
		wg.Wait()
		fleetStore, fleetCalls, fleetSetup = st, calls, time.Since(start)
	})
	if fleetStore == nil {
		b.Fatal("fleet setup failed")
	}
	return fleetStore, fleetCalls
}

// BenchmarkGetParams measures the generator endpoint with 1,000 registered clusters, in
// process (handler only) and over loopback HTTP (client and server in this process).
func BenchmarkGetParams(b *testing.B) {
	st, calls := thousandClusters(b)
	b.Logf("registered 1,000 clusters in %s", fleetSetup.Round(time.Millisecond))
	opts := baseOptions(b, st)
	opts.CacheTTL = DefaultCacheTTL
	opts.Logger = nil
	s, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	body := func(params map[string]any) []byte {
		var buf bytes.Buffer
		_ = json.NewEncoder(&buf).Encode(request(params))
		return buf.Bytes()
	}

	// The cost of a registry reload: one query of the registry partition.
	calls.Reset()
	start := time.Now()
	if _, _, err := s.cache.Check(testContext(b)); err != nil {
		b.Fatal(err)
	}
	b.Logf("first registry read (the change counter's BatchGetItem + the registry's and the rollouts' queries of 1,000 cluster heads, snapshot built): %s, %s", time.Since(start).Round(time.Microsecond), calls)

	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"all", nil},
		{"environment", map[string]any{"environment": "prod"}},
		{"selector", map[string]any{"labelSelector": "tier=gold,team in (team-2,team-4)"}},
	} {
		req := body(tc.params)
		b.Run("handler/"+tc.name, func(b *testing.B) { benchHandler(b, h, req) })
	}

	srv := httptest.NewServer(h)
	defer srv.Close()
	req := body(nil)
	b.Run("loopback/all", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, _ := http.NewRequest(http.MethodPost, srv.URL+GetParamsPath, bytes.NewReader(req))
				r.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := client.Do(r)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkPublishToServed measures, with the default poll interval (2 s) and cache TTL
// (1 s), the time from a publish returning to the ApplicationSets being annotated, and then
// the generator serving the new configVersion to the request the annotation triggers (as the
// ApplicationSet controller asks only then, nothing polls the generator meanwhile). Publishes
// are spread over the poll period (a random pause first), so the figures sample the whole
// period: each iteration takes about 2 s.
func BenchmarkPublishToServed(b *testing.B) {
	st, _ := newStore(b)
	seed(b, st)
	kube := newFakeKube(b)
	kube.add("argocd", "platform", pluginGen(DefaultConfigMapName, nil))
	opts := baseOptions(b, st)
	opts.PollInterval, opts.CacheTTL = DefaultPollInterval, DefaultCacheTTL
	opts.Kube = kube.options(b)
	opts.Logger = nil
	_, base := runServer(b, opts)
	eventually(b, "the startup refresh", func() bool { return len(kube.patched()) > 0 })

	var toServed, toAnnotated []time.Duration
	b.ResetTimer()
	for i := range b.N {
		time.Sleep(time.Duration(rand.Int64N(int64(DefaultPollInterval))))
		kube.reset()
		publish(b, st, config.EnvLayer("dev"), namespaceEntry(b, "dev-tools"), namespaceEntry(b, fmt.Sprintf("ns-%d", i)))
		published := time.Now()
		eventually(b, "the annotation", func() bool { return len(kube.patched()) > 0 })
		toAnnotated = append(toAnnotated, time.Since(published))
		want := fmt.Sprintf("g1.e%d.c1", i+2)
		if got := servedVersion(b, base, "dev-a"); got != want {
			b.Fatalf("after the annotation the generator serves %s, want %s", got, want)
		}
		toServed = append(toServed, time.Since(published))
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		b.ReportMetric(float64(sum.Milliseconds())/float64(len(ds)), name+"-mean-ms")
		b.ReportMetric(float64(ds[len(ds)-1].Milliseconds()), name+"-max-ms")
		b.Logf("%s: min %s, median %s, max %s over %d publishes", name, ds[0].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds))
	}
	report("served", toServed)
	report("annotated", toAnnotated)
}

// BenchmarkGetParamsRollout measures the generator with 1,000 clusters while a rollout of the
// global layer in three waves (10 %, 40 %, the rest) is live: the registry reload (one query,
// now with the rollout item) and the answer to every cluster.
func BenchmarkGetParamsRollout(b *testing.B) {
	st, calls := thousandClusters(b)
	ctx := testContext(b)
	s3, err := rollout.ParseStrategy([]byte("name: default\nwaves:\n- {name: canary, percent: 10, bake: 10m}\n- {name: half, percent: 40}\n- {name: rest}\n"))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.PutStrategy(ctx, s3, "bench"); err != nil {
		b.Fatal(err)
	}
	res, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: config.GlobalLayer, Entries: []config.Entry{namespaceEntry(b, "base"), namespaceEntry(b, "rollout")}, Actor: "bench"})
	if err != nil || res.Rollout == nil {
		b.Fatalf("publish with a rollout: %v %v", res, err)
	}
	opts := baseOptions(b, st)
	opts.CacheTTL = DefaultCacheTTL
	opts.Logger = nil
	srv, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	calls.Reset()
	start := time.Now()
	snap, _, err := srv.cache.Check(ctx)
	if err != nil {
		b.Fatal(err)
	}
	reached := 0
	for _, c := range snap.Inventory.Clusters {
		if c.Served.Global == res.Version {
			reached++
		}
	}
	b.Logf("registry read with a live rollout (the change counter's BatchGetItem + the registry's and the rollouts' queries, 1,000 heads and the rollout item, snapshot built): %s, %s; %d of %d clusters served the new global version",
		time.Since(start).Round(time.Microsecond), calls, reached, len(snap.Inventory.Clusters))
	h := srv.Handler()
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(request(nil))
	req := buf.Bytes()
	b.Run("handler/all", func(b *testing.B) { benchHandler(b, h, req) })
	b.Run("snapshot-build", func(b *testing.B) {
		reg, err := st.RegistryState(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			srv.gen.Prepare(registry.NewSnapshot(1, reg, time.Now()))
		}
	})
}

// benchHandler posts req to the generator handler h in a loop.
func benchHandler(b *testing.B, h http.Handler, req []byte) {
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, GetParamsPath, bytes.NewReader(req))
		r.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(size), "bytes/answer")
}
