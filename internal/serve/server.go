package serve

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
)

// readyCache is how long a readiness verdict (store.Ping) is reused.
const readyCache = 5 * time.Second

// Server is the service: it wires the parts (generator, notifiers, rollout tracker) and owns
// the HTTP server, health and metrics. Create it with New, serve with Run.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	cache   *registry.Cache
	router  *registry.Router
	gen     *generator.Handler

	annot *notify.Annotator // nil without the Kubernetes API
	refr  *notify.Refresher // nil without the Argo CD API
	track *progress.Tracker // nil without the Argo CD API
	drive *progress.Driver  // nil without the Argo CD API
	hooks *notify.Webhook   // nil without a webhook
	mux   *http.ServeMux    // the API: the generator
	ops   *http.ServeMux    // health, readiness, metrics
	ready readiness

	stopping atomic.Bool
}

type readiness struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// New checks the options and builds the service.
func New(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: opts.Metrics}
	m := s.metrics
	// The event router: every new snapshot of the registry goes to the generator's answers,
	// then to the parts below that act on changes (registry.Router).
	s.router = &registry.Router{Metrics: registry.RouterMetrics{ChangeSeq: m.changeSeq, Clusters: m.clusters, Changes: m.changes},
		Log: s.log, Now: opts.Now}
	s.cache = registry.NewCache(registry.CacheOptions{Store: opts.Store, TTL: opts.CacheTTL, Timeout: opts.StoreTimeout, FreshnessBudget: max(opts.FreshnessBudget, 0), Now: opts.Now, OnChange: s.router.OnChange})
	if opts.Webhook != nil {
		w, err := notify.NewWebhook(*opts.Webhook, m.Notify, m.Outbound, s.log, opts.Now)
		if err != nil {
			return nil, err
		}
		s.hooks = w
	}
	if opts.Kube != nil {
		k, err := kube.New(*opts.Kube, m.Outbound, s.log)
		if err != nil {
			return nil, err
		}
		s.annot = notify.NewAnnotator(notify.AnnotatorOptions{Kube: k, Namespaces: opts.Kube.Namespaces, ConfigMapName: opts.ConfigMapName,
			ReannotateAfter: opts.ReannotateAfter, Now: opts.Now, Log: s.log, Metrics: m.Notify})
	}
	if opts.ArgoCD != nil {
		a, err := argocd.New(*opts.ArgoCD, m.Outbound, s.log)
		if err != nil {
			return nil, err
		}
		// One reader of the Applications for the driver, the tracker and the refresher.
		rd, err := argocd.NewReader(argocd.ReaderOptions{List: a.List, PluginName: opts.PluginName, Selector: opts.ArgoCD.Selector,
			CensusInterval: opts.ArgoCD.CensusInterval, Now: opts.Now, Log: s.log, Metrics: m.Reader})
		if err != nil {
			return nil, err
		}
		var emit func(event.Event)
		if s.hooks != nil {
			emit = s.hooks.Enqueue
		}
		s.track = progress.New(progress.Options{Store: opts.Store, Emit: emit, PluginName: opts.PluginName,
			RolloutTimeout: opts.RolloutTimeout, StoreTimeout: opts.StoreTimeout,
			AutoRollback: opts.AutoRollback, Replica: opts.Replica, Now: opts.Now, Log: s.log, Metrics: m.Rollout})
		s.drive = progress.NewDriver(progress.DriverOptions{ArgoCD: a, Reader: rd, Store: opts.Store, Tracker: s.track, Emit: emit, PluginName: opts.PluginName,
			Interval: opts.StatusInterval, WaveTimeout: opts.RolloutTimeout, StoreTimeout: opts.StoreTimeout,
			Replica: opts.Replica, Now: opts.Now, Log: s.log, Metrics: m.Driver})
		s.refr = notify.NewRefresher(notify.RefresherOptions{ArgoCD: a, Reader: rd, PluginName: opts.PluginName, Concurrency: opts.ArgoCD.RefreshConcurrency,
			Refreshed: s.track.Refreshed, Now: opts.Now, Log: s.log, Metrics: m.Notify})
	}
	s.mux = http.NewServeMux()
	s.gen = &generator.Handler{Token: opts.GeneratorToken, PreviousToken: opts.PreviousGeneratorToken,
		Cache: s.cache, Log: s.log, Metrics: m.Generator, Now: opts.Now}
	s.router.Prepare = s.gen.Prepare
	// In this order, as they were told before the router: the webhook's events of the head
	// moves, the ApplicationSets, the tracker, the refresher, the driver.
	if s.hooks != nil {
		s.router.Subscribers = append(s.router.Subscribers, notify.ChangeEvents{Webhook: s.hooks, Replica: opts.Replica})
	}
	if s.annot != nil {
		s.router.Subscribers = append(s.router.Subscribers, s.annot)
	}
	if s.track != nil {
		s.router.Subscribers = append(s.router.Subscribers, s.track, s.refr, s.drive)
	}
	s.mux.Handle(GetParamsPath, s.gen)
	// Health and metrics answer on their own listener, never on the API's: /metrics names
	// every cluster with its version and health, and neither needs the generator's token.
	s.ops = http.NewServeMux()
	s.ops.Handle("/healthz", readOnly(http.HandlerFunc(s.handleHealthz)))
	s.ops.Handle("/readyz", readOnly(http.HandlerFunc(s.handleReadyz)))
	s.ops.Handle("/metrics", readOnly(s.metrics.Handler()))
	return s, nil
}

// readOnly answers 405 to every method but GET and HEAD.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeStatus(w, http.StatusMethodNotAllowed, "method not allowed", "use GET or HEAD")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// GetParamsPath is where Argo CD's plugin generator posts.
const GetParamsPath = generator.GetParamsPath

// knownPaths bounds the path label of the request metrics.
var knownPaths = map[string]bool{GetParamsPath: true, "/healthz": true, "/readyz": true, "/metrics": true}

// Handler is the service's API handler, instrumented: the generator, and nothing else.
func (s *Server) Handler() http.Handler { return s.instrument(s.mux) }

// OpsHandler is the handler of the operations listener, instrumented: /healthz, /readyz and
// /metrics, GET and HEAD only.
func (s *Server) OpsHandler() http.Handler { return s.instrument(s.ops) }

func (s *Server) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		path := r.URL.Path
		if !knownPaths[path] {
			path = "other"
		}
		s.metrics.observeRequest(path, rec.code, time.Since(start))
		if path == GetParamsPath {
			s.log.Debug("generator request", "code", rec.code, "durationMs", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, "ok", "")
}

// handleReadyz answers 200 when DynamoDB is reachable (store.Ping, reused for 5 s), 503
// otherwise and while shutting down.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		writeStatus(w, http.StatusServiceUnavailable, "shutting down", "")
		return
	}
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if s.ready.at.IsZero() || time.Since(s.ready.at) > readyCache {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		s.ready.err = s.opts.Store.Ping(ctx)
		cancel()
		s.ready.at = time.Now()
	}
	if err := s.ready.err; err != nil {
		writeStatus(w, http.StatusServiceUnavailable, "not ready", "DynamoDB: "+err.Error())
		return
	}
	writeStatus(w, http.StatusOK, "ok", "")
}

func writeStatus(w http.ResponseWriter, code int, status, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}{status, detail})
}

// Run serves the API on api and health and metrics on ops, and runs the watcher and the
// notifiers until ctx is cancelled, then shuts down gracefully: /readyz fails for
// ShutdownDelay while requests are still served, the listeners close, in-flight requests
// finish, and queued webhook events are delivered, all within ShutdownTimeout.
func (s *Server) Run(ctx context.Context, api, ops net.Listener) error {
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
	}
	srv, opsSrv := newServer(s.Handler()), newServer(s.OpsHandler())
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	hookCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	defer stopHooks()
	var wg sync.WaitGroup
	goRun := func(run func(context.Context), ctx context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	goRun(func(ctx context.Context) {
		registry.Watch(ctx, s.opts.PollInterval, func(ctx context.Context) error { _, _, err := s.cache.Check(ctx); return err }, s.log)
	}, bg)
	if s.annot != nil {
		goRun(s.annot.Run, bg)
	}
	if s.refr != nil {
		goRun(s.refr.Run, bg)
		goRun(s.drive.Run, bg)
	}
	if s.hooks != nil {
		goRun(s.hooks.Run, hookCtx)
	}

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(api) }()
	go func() { serveErr <- opsSrv.Serve(ops) }()
	s.log.Info("serving", "address", api.Addr().String(), "metricsAddress", ops.Addr().String(), "pollInterval", s.opts.PollInterval.String(), "cacheTTL", s.opts.CacheTTL.String(),
		"kubernetes", s.annot != nil, "argocd", s.refr != nil, "webhook", s.hooks != nil, "autoRollbackLayers", []string(s.opts.AutoRollback.Layers))

	select {
	case err := <-serveErr:
		stopBg()
		stopHooks()
		_ = srv.Close()
		_ = opsSrv.Close()
		<-serveErr
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	s.log.Info("shutting down", "delay", s.opts.ShutdownDelay.String(), "timeout", s.opts.ShutdownTimeout.String())
	if s.opts.ShutdownDelay > 0 {
		time.Sleep(s.opts.ShutdownDelay)
	}
	stopBg()
	shCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shCtx)
	<-serveErr // http.ErrServerClosed
	if opsErr := opsSrv.Shutdown(shCtx); err == nil {
		err = opsErr
	}
	<-serveErr
	if s.hooks != nil {
		s.hooks.Drain(shCtx)
	}
	stopHooks()
	wg.Wait()
	s.log.Info("stopped")
	return err
}
