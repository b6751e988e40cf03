package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/serve"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// In-cluster defaults of the Kubernetes API client (the pod's service account).
const (
	serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	serviceAccountCA    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// serveFlags are the serve command's settings; every flag takes its default from the
// environment variable named in its help.
type serveFlags struct {
	so storeOptions

	listen, generatorTokenFile, configMap, pluginName string
	cacheTTL, pollInterval, freshnessBudget           time.Duration

	kubeURL, kubeTokenFile, kubeCAFile string
	namespaces                         []string

	argoURL, argoTokenFile, argoCAFile string
	argoInsecure                       bool
	argoRefreshTimeout                 time.Duration

	webhookURL, webhookTokenFile string
	webhookQueue                 int
	webhookMaxAge                time.Duration

	httpTimeout time.Duration
	httpRetries int

	statusInterval, rolloutTimeout time.Duration
	rollbackLayers                 []string
	rollbackWindow                 time.Duration

	shutdownDelay, shutdownTimeout time.Duration
	logLevel                       string

	// envErrs are environment variables holding values of the wrong type.
	envErrs []error
}

func newServeCommand(streams IOStreams, env Env) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ApplicationSet plugin generator and the change notifier (long-running)",
		Long: `Serve runs the service Argo CD talks to (docs/serve.md):

  POST /api/v1/getparams.execute   ApplicationSet plugin generator: one parameter set per
                                   registered cluster (cluster, environment, region, labels,
                                   vars, configVersion), filtered by the generator's input
  GET  /healthz, /readyz, /metrics liveness, readiness (DynamoDB reachable), Prometheus

and, in the background, watches the registry's change counter: on every publish or rollback
it annotates the ApplicationSets that use the generator (Kubernetes API) so Argo CD asks for
parameters at once, hard-refreshes Applications that render "latest" (and syncs them when
their sync policy is automated) and follows the rollout (Argo CD API), reports to a webhook, records each cluster's last known good configVersion,
and rolls opted-in layers back when their Applications fail.

Every flag defaults to the environment variable named in its help. Logs are JSON on stderr.
SIGTERM shuts down gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, streams, env, f)
		},
	}
	f.addFlags(cmd.Flags(), env)
	return cmd
}

func (f *serveFlags) addFlags(fs *pflag.FlagSet, env Env) {
	f.so.addFlags(fs, env, serve.DefaultStoreTimeout)
	fs.Lookup("timeout").Usage = "deadline of each DynamoDB read of the service (env DYNAMO_CMP_TIMEOUT)"

	str := func(p *string, name, envName, def, usage string) {
		if v := env.Get(envName); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+envName+")")
	}
	dur := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		if v := env.Get(envName); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q is not a duration such as 30s", envName, v))
			} else {
				def = d
			}
		}
		fs.DurationVar(p, name, def, usage+" (env "+envName+")")
	}
	num := func(p *int, name, envName string, def int, usage string) {
		if v := env.Get(envName); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q is not a non-negative number", envName, v))
			} else {
				def = n
			}
		}
		fs.IntVar(p, name, def, usage+" (env "+envName+")")
	}
	list := func(p *[]string, name, envName string, def []string, usage string) {
		if v := env.Get(envName); v != "" {
			def = splitList(v)
		}
		fs.StringSliceVar(p, name, def, usage+" (env "+envName+", comma-separated)")
	}
	boolean := func(p *bool, name, envName string, usage string) {
		def := false
		if v := env.Get(envName); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				f.envErrs = append(f.envErrs, fmt.Errorf("%s=%q is not true or false", envName, v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage+" (env "+envName+")")
	}

	str(&f.listen, "listen", "DYNAMO_CMP_LISTEN", ":8080", "address the HTTP server listens on")
	str(&f.generatorTokenFile, "generator-token-file", "DYNAMO_CMP_GENERATOR_TOKEN_FILE", "",
		"file holding the bearer token Argo CD's plugin generator sends (re-read when it changes); or set the token itself in DYNAMO_CMP_GENERATOR_TOKEN")
	str(&f.configMap, "generator-configmap", "DYNAMO_CMP_GENERATOR_CONFIGMAP", serve.DefaultConfigMapName,
		"name of the ConfigMap the ApplicationSets' plugin generators reference (configMapRef.name): those ApplicationSets are refreshed on a change")
	str(&f.pluginName, "plugin-name", "DYNAMO_CMP_PLUGIN_NAME", serve.DefaultPluginName, "CMP plugin name the Applications use (spec.source.plugin.name)")
	dur(&f.cacheTTL, "cache-ttl", "DYNAMO_CMP_CACHE_TTL", serve.DefaultCacheTTL,
		"how long the generator serves the registry without asking DynamoDB whether it changed (0: one GetItem per request)")
	dur(&f.freshnessBudget, "freshness-budget", "DYNAMO_CMP_FRESHNESS_BUDGET", serve.DefaultFreshnessBudget,
		"how long a generator request waits for DynamoDB before serving the last snapshot (well inside Argo CD's 10s requestTimeout)")
	dur(&f.pollInterval, "poll-interval", "DYNAMO_CMP_POLL_INTERVAL", serve.DefaultPollInterval, "how often the registry's change counter is read")

	kubeURL := ""
	if h, p := env.Get("KUBERNETES_SERVICE_HOST"), env.Get("KUBERNETES_SERVICE_PORT"); h != "" && p != "" {
		kubeURL = "https://" + net.JoinHostPort(h, p)
	}
	str(&f.kubeURL, "kube-url", "DYNAMO_CMP_KUBE_URL", kubeURL,
		"Kubernetes API server (in a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT); empty disables the ApplicationSet refresh annotations")
	str(&f.kubeTokenFile, "kube-token-file", "DYNAMO_CMP_KUBE_TOKEN_FILE", serviceAccountToken, "bearer token file for the Kubernetes API (re-read as it rotates)")
	str(&f.kubeCAFile, "kube-ca-file", "DYNAMO_CMP_KUBE_CA_FILE", serviceAccountCA, "CA bundle verifying the Kubernetes API server (system roots when the default file is absent)")
	list(&f.namespaces, "namespaces", "DYNAMO_CMP_NAMESPACES", []string{serve.DefaultNamespace}, "namespaces whose ApplicationSets are refreshed")

	str(&f.argoURL, "argocd-url", "DYNAMO_CMP_ARGOCD_URL", "",
		"Argo CD API server, e.g. https://argocd-server.argocd.svc; empty disables hard refreshes, rollout status, last-known-good records and auto-rollback")
	str(&f.argoTokenFile, "argocd-token-file", "DYNAMO_CMP_ARGOCD_TOKEN_FILE", "",
		"file holding an Argo CD API token (an account with applications get/list); or set the token itself in DYNAMO_CMP_ARGOCD_TOKEN")
	str(&f.argoCAFile, "argocd-ca-file", "DYNAMO_CMP_ARGOCD_CA_FILE", "", "CA bundle verifying the Argo CD API server")
	boolean(&f.argoInsecure, "argocd-insecure", "DYNAMO_CMP_ARGOCD_INSECURE", "skip verifying the Argo CD API server's certificate (its default self-signed one); prefer --argocd-ca-file")
	dur(&f.argoRefreshTimeout, "argocd-refresh-timeout", "DYNAMO_CMP_ARGOCD_REFRESH_TIMEOUT", serve.DefaultRefreshTimeout,
		"timeout of each hard-refresh call (Argo CD answers once the Application is reconciled)")

	str(&f.webhookURL, "webhook-url", "DYNAMO_CMP_WEBHOOK_URL", "", "URL receiving status events as JSON POSTs; empty disables")
	str(&f.webhookTokenFile, "webhook-token-file", "DYNAMO_CMP_WEBHOOK_TOKEN_FILE", "",
		"file holding a bearer token for the webhook; or set the token itself in DYNAMO_CMP_WEBHOOK_TOKEN")
	num(&f.webhookQueue, "webhook-queue-size", "DYNAMO_CMP_WEBHOOK_QUEUE_SIZE", serve.DefaultWebhookQueue, "events kept for delivery; beyond it the oldest is dropped")
	dur(&f.webhookMaxAge, "webhook-max-age", "DYNAMO_CMP_WEBHOOK_MAX_AGE", serve.DefaultWebhookMaxAge, "how long an undelivered event is retried")

	dur(&f.httpTimeout, "http-timeout", "DYNAMO_CMP_HTTP_TIMEOUT", outbound.DefaultHTTPOptions.Timeout, "timeout of each outbound HTTP attempt (Kubernetes, Argo CD, webhook)")
	num(&f.httpRetries, "http-retries", "DYNAMO_CMP_HTTP_RETRIES", outbound.DefaultHTTPOptions.RetryMax, "retries of an outbound call after connection errors, 429 and 5xx (exponential backoff)")

	dur(&f.statusInterval, "status-interval", "DYNAMO_CMP_STATUS_INTERVAL", serve.DefaultStatusInterval, "how often Applications are read while a rollout is followed")
	dur(&f.rolloutTimeout, "rollout-timeout", "DYNAMO_CMP_ROLLOUT_TIMEOUT", serve.DefaultRolloutTimeout, "how long a rollout is followed before it is reported as timed out")
	list(&f.rollbackLayers, "auto-rollback-layers", "DYNAMO_CMP_AUTO_ROLLBACK_LAYERS", nil,
		"layers rolled back automatically when their publish makes Applications fail (global, env/prod, cluster/*, env/*, *); empty: none")
	dur(&f.rollbackWindow, "auto-rollback-window", "DYNAMO_CMP_AUTO_ROLLBACK_WINDOW", serve.DefaultRollbackWindow, "how long after a publish a failure triggers the rollback")

	dur(&f.shutdownDelay, "shutdown-delay", "DYNAMO_CMP_SHUTDOWN_DELAY", 0, "after SIGTERM, keep serving this long with /readyz failing")
	dur(&f.shutdownTimeout, "shutdown-timeout", "DYNAMO_CMP_SHUTDOWN_TIMEOUT", serve.DefaultShutdownTimeout, "bound of the graceful shutdown (requests in flight, webhook events queued)")
	str(&f.logLevel, "log-level", "DYNAMO_CMP_LOG_LEVEL", "info", "debug, info, warn or error")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readSecret returns the secret in file, else the one in the environment variable, else nil.
func readSecret(file string, env Env, envName string) (secret.Secret, error) {
	if file != "" {
		s := secret.NewFile(file)
		if _, err := s.Value(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if v := env.Get(envName); strings.TrimSpace(v) != "" {
		return secret.Static(v), nil
	}
	return nil, nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: use debug, info, warn or error", s)
}

// options turns the flags into the service's options (every problem at once) and the
// warnings to log once they are valid.
func (f *serveFlags) options(fs *pflag.FlagSet, env Env) (o serve.Options, warnings []string, err error) {
	errs := append([]error(nil), f.envErrs...)
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	httpOpts := outbound.HTTPOptions{Timeout: f.httpTimeout, RetryMax: f.httpRetries}
	o = serve.Options{
		ConfigMapName: f.configMap, PluginName: f.pluginName,
		CacheTTL: f.cacheTTL, FreshnessBudget: f.freshnessBudget, PollInterval: f.pollInterval, StoreTimeout: f.so.timeout,
		StatusInterval: f.statusInterval, RolloutTimeout: f.rolloutTimeout,
		ShutdownDelay: f.shutdownDelay, ShutdownTimeout: f.shutdownTimeout,
		Replica: env.Get("POD_NAME", "HOSTNAME"),
	}
	if f.pollInterval <= 0 {
		add(errors.New("--poll-interval must be positive"))
	}
	tok, err := readSecret(f.generatorTokenFile, env, "DYNAMO_CMP_GENERATOR_TOKEN")
	add(err)
	if tok == nil && err == nil {
		add(errors.New("no generator token: set --generator-token-file (a mounted Secret key) or DYNAMO_CMP_GENERATOR_TOKEN"))
	}
	o.GeneratorToken = tok

	if f.kubeURL != "" {
		k := &kube.Options{URL: f.kubeURL, Namespaces: f.namespaces, HTTP: httpOpts}
		tokenExplicit := fs.Changed("kube-token-file") || env.Get("DYNAMO_CMP_KUBE_TOKEN_FILE") != ""
		if _, statErr := os.Stat(f.kubeTokenFile); tokenExplicit || statErr == nil {
			ts, err := readSecret(f.kubeTokenFile, env, "")
			add(err)
			k.Token = ts
		} else {
			warnings = append(warnings, "no service account token ("+f.kubeTokenFile+"): calling the Kubernetes API without credentials")
		}
		caExplicit := fs.Changed("kube-ca-file") || env.Get("DYNAMO_CMP_KUBE_CA_FILE") != ""
		if _, statErr := os.Stat(f.kubeCAFile); caExplicit || statErr == nil {
			k.CAFile = f.kubeCAFile
		}
		o.Kube = k
	} else {
		warnings = append(warnings, "no Kubernetes API server (--kube-url): ApplicationSets are not refreshed on a change; they poll (requeueAfterSeconds)")
	}

	if f.argoURL != "" {
		a := &argocd.Options{URL: f.argoURL, CAFile: f.argoCAFile, InsecureSkipVerify: f.argoInsecure, HTTP: httpOpts, RefreshTimeout: f.argoRefreshTimeout}
		ts, err := readSecret(f.argoTokenFile, env, "DYNAMO_CMP_ARGOCD_TOKEN")
		add(err)
		if ts == nil && err == nil {
			add(errors.New("--argocd-url is set but no token: set --argocd-token-file or DYNAMO_CMP_ARGOCD_TOKEN"))
		}
		a.Token = ts
		o.ArgoCD = a
	}
	if f.webhookURL != "" {
		w := &notify.WebhookOptions{URL: f.webhookURL, QueueSize: f.webhookQueue, MaxAge: f.webhookMaxAge, HTTP: httpOpts}
		ts, err := readSecret(f.webhookTokenFile, env, "DYNAMO_CMP_WEBHOOK_TOKEN")
		add(err)
		w.Token = ts
		o.Webhook = w
	}
	layers, err := rollout.ParseLayerPatterns(f.rollbackLayers)
	if err != nil {
		add(fmt.Errorf("--auto-rollback-layers: %w", err))
	}
	o.AutoRollback = rollout.AutoRollbackOptions{Layers: layers, Window: f.rollbackWindow}
	if len(layers) > 0 && f.argoURL == "" {
		add(errors.New("--auto-rollback-layers needs --argocd-url: the Applications' state comes from the Argo CD API"))
	}
	return o, warnings, errors.Join(errs...)
}

func runServe(cmd *cobra.Command, streams IOStreams, env Env, f *serveFlags) error {
	level, err := parseLevel(f.logLevel)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	log := slog.New(slog.NewJSONHandler(streams.ErrOut, &slog.HandlerOptions{Level: level})).With("component", "serve")
	opts, warnings, err := f.options(cmd.Flags(), env)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	cfg, err := f.so.config(env)
	if err != nil {
		return err
	}
	metrics := serve.NewMetrics()
	cfg.Observer = metrics
	st, err := store.New(cmd.Context(), cfg)
	if err != nil {
		return withCode(ExitFailed, err)
	}
	opts.Store, opts.Metrics, opts.Logger = st, metrics, log
	srv, err := serve.New(opts)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return withCode(ExitFailed, fmt.Errorf("listen on %s: %w", f.listen, err))
	}
	if err := srv.Run(cmd.Context(), ln); err != nil {
		return withCode(ExitFailed, err)
	}
	return nil
}
