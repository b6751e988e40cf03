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
)

// readyCache is how long a readiness verdict (store.Ping) is reused.
const readyCache = 5 * time.Second

// Server is the service. Create it with New, serve with Run.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	cache   *registryCache

	annot *annotator     // nil without the Kubernetes API
	refr  *refresher     // nil without the Argo CD API
	track *tracker       // nil without the Argo CD API
	hooks *webhookQueue  // nil without a webhook
	mux   *http.ServeMux // routes
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
	s.cache = &registryCache{st: opts.Store, ttl: opts.CacheTTL, timeout: opts.StoreTimeout, now: opts.Now, onChange: s.onSnapshot}
	if opts.Kube != nil {
		k, err := newKubeClient(opts.Kube, s.metrics, s.log)
		if err != nil {
			return nil, err
		}
		s.annot = newAnnotator(s, k)
	}
	if opts.ArgoCD != nil {
		a, err := newArgoClient(opts.ArgoCD, s.metrics, s.log)
		if err != nil {
			return nil, err
		}
		s.refr = newRefresher(s, a)
		s.track = newTracker(s, a)
	}
	if opts.Webhook != nil {
		q, err := newWebhookQueue(opts.Webhook, s.metrics, s.log, opts.Now)
		if err != nil {
			return nil, err
		}
		s.hooks = q
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(GetParamsPath, s.handleGetParams)
	s.mux.HandleFunc("/healthz", s.handleHealthz)
	s.mux.HandleFunc("/readyz", s.handleReadyz)
	s.mux.Handle("/metrics", s.metrics.Handler())
	return s, nil
}

// knownPaths bounds the path label of the request metrics.
var knownPaths = map[string]bool{GetParamsPath: true, "/healthz": true, "/readyz": true, "/metrics": true}

// Handler is the service's HTTP handler (every endpoint, instrumented).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		s.mux.ServeHTTP(rec, r)
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

// Run serves on ln and runs the watcher and the notifiers until ctx is cancelled, then shuts
// down gracefully: /readyz fails for ShutdownDelay while requests are still served, the
// listener closes, in-flight requests finish, and queued webhook events are delivered, all
// within ShutdownTimeout.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
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
	goRun(s.watch, bg)
	if s.annot != nil {
		goRun(s.annot.run, bg)
	}
	if s.refr != nil {
		goRun(s.refr.run, bg)
		goRun(s.track.run, bg)
	}
	if s.hooks != nil {
		goRun(s.hooks.run, hookCtx)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("serving", "address", ln.Addr().String(), "pollInterval", s.opts.PollInterval.String(), "cacheTTL", s.opts.CacheTTL.String(),
		"kubernetes", s.annot != nil, "argocd", s.refr != nil, "webhook", s.hooks != nil, "autoRollbackLayers", []string(s.opts.AutoRollback.Layers))

	select {
	case err := <-serveErr:
		stopBg()
		stopHooks()
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
	if s.hooks != nil {
		s.hooks.drain(shCtx)
	}
	stopHooks()
	wg.Wait()
	s.log.Info("stopped")
	return err
}
