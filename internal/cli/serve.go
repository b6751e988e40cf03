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

	"k8s.io/apimachinery/pkg/labels"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
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

	listen, metricsAddress, generatorTokenFile, previousTokenFile, configMap, pluginName string
	cacheTTL, pollInterval, freshnessBudget                                              time.Duration

	kubeURL, kubeTokenFile, kubeCAFile string
	namespaces                         []string

	argoURL, argoTokenFile, argoCAFile string
	argoInsecure                       bool
	argoRefreshTimeout                 time.Duration
	argoSelector                       string
	argoMaxListMiB                     int

	webhookURL, webhookTokenFile, webhookCAFile    string
	webhookSigningFile, webhookPreviousSigningFile string
	webhookQueue                                   int
	webhookMaxAge                                  time.Duration
	allowInsecureHTTP                              bool

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

  POST /api/v1/getparams.execute   ApplicationSet plugin generator (--listen): one parameter
                                   set per registered cluster (cluster, environment, region,
                                   labels, vars, configVersion), filtered by the generator's input
  GET  /healthz, /readyz, /metrics liveness, readiness (DynamoDB reachable), Prometheus, on
                                   their own address (--metrics-address), GET and HEAD only

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

	str(&f.listen, "listen", "DYNAMO_CMP_LISTEN", ":8080", "address the generator API listens on")
	str(&f.metricsAddress, "metrics-address", "DYNAMO_CMP_METRICS_ADDRESS", ":9090", "address /healthz, /readyz and /metrics listen on (not the API's)")
	str(&f.generatorTokenFile, "generator-token-file", "DYNAMO_CMP_GENERATOR_TOKEN_FILE", "",
		"file holding the bearer token Argo CD's plugin generator sends, at least 32 bytes (re-read when it changes); or set the token itself in DYNAMO_CMP_GENERATOR_TOKEN")
	str(&f.previousTokenFile, "generator-previous-token-file", "DYNAMO_CMP_GENERATOR_PREVIOUS_TOKEN_FILE", "",
		"file holding the token being replaced during a rotation, accepted as well until the file is removed or emptied; or DYNAMO_CMP_GENERATOR_PREVIOUS_TOKEN")
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
	str(&f.argoSelector, "argocd-selector", "DYNAMO_CMP_ARGOCD_SELECTOR", argocd.DefaultSelector,
		"label selector of the Applications serve reads (the label the example ApplicationSets set); every Application of the plugin is still read every 10 minutes, and all of them while some lack the label; empty reads every Application")
	num(&f.argoMaxListMiB, "argocd-max-list-size", "DYNAMO_CMP_ARGOCD_MAX_LIST_SIZE", argocd.DefaultMaxListBytes>>20,
		"MiB: a longer answer to the Application list is refused as a whole, with an error naming the limit")

	str(&f.webhookURL, "webhook-url", "DYNAMO_CMP_WEBHOOK_URL", "", "URL receiving status events as JSON POSTs; empty disables")
	str(&f.webhookTokenFile, "webhook-token-file", "DYNAMO_CMP_WEBHOOK_TOKEN_FILE", "",
		"file holding a bearer token for the webhook; or set the token itself in DYNAMO_CMP_WEBHOOK_TOKEN")
	str(&f.webhookCAFile, "webhook-ca-file", "DYNAMO_CMP_WEBHOOK_CA_FILE", "", "CA bundle verifying the webhook's certificate (a private CA); the system roots when empty")
	str(&f.webhookSigningFile, "webhook-signing-secret-file", "DYNAMO_CMP_WEBHOOK_SIGNING_SECRET_FILE", "",
		"file holding the secret (at least 32 bytes) that signs every event with HMAC-SHA256 (X-Dynamo-Cmp-Signature); or set it in DYNAMO_CMP_WEBHOOK_SIGNING_SECRET")
	str(&f.webhookPreviousSigningFile, "webhook-previous-signing-secret-file", "DYNAMO_CMP_WEBHOOK_PREVIOUS_SIGNING_SECRET_FILE", "",
		"file holding the signing secret being replaced: events carry both signatures until the file is removed or emptied")
	boolean(&f.allowInsecureHTTP, "allow-insecure-http", "DYNAMO_CMP_ALLOW_INSECURE_HTTP",
		"accept http:// for --argocd-url and --webhook-url (tokens and events then travel unencrypted); only for services reached inside the cluster")
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

// readOptionalSecret returns the optional secret in file (a missing or empty file is no
// secret, re-checked as the file changes), else the one in the environment variable, else
// nil: the previous token or signing secret of a rotation.
func readOptionalSecret(file string, env Env, envName string) (secret.Secret, error) {
	if file != "" {
		s := secret.NewOptionalFile(file)
		if _, err := s.Value(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if envName != "" {
		if v := env.Get(envName); strings.TrimSpace(v) != "" {
			return secret.Static(v), nil
		}
	}
	return nil, nil
}

// minSecretBytes is the shortest token or signing secret serve accepts (256 bits).
const minSecretBytes = generator.MinTokenBytes

// checkLength refuses a token or signing secret shorter than 32 bytes, naming where it came
// from (the flag and its file, or the environment variable), never its value.
func checkLength(s secret.Secret, flag, file, envName, what string) error {
	if s == nil {
		return nil
	}
	v, err := s.Value()
	if err != nil || v == "" || len(v) >= minSecretBytes {
		return nil
	}
	from := envName
	if file != "" {
		from = flag + " (" + file + ")"
	}
	return fmt.Errorf("%s: the %s is %d bytes, shorter than the %d required; make one with: openssl rand -hex 32", from, what, len(v), minSecretBytes)
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
	add(checkLength(tok, "--generator-token-file", f.generatorTokenFile, "DYNAMO_CMP_GENERATOR_TOKEN", "token"))
	o.GeneratorToken = tok
	prev, err := readOptionalSecret(f.previousTokenFile, env, "DYNAMO_CMP_GENERATOR_PREVIOUS_TOKEN")
	add(err)
	add(checkLength(prev, "--generator-previous-token-file", f.previousTokenFile, "DYNAMO_CMP_GENERATOR_PREVIOUS_TOKEN", "token"))
	o.PreviousGeneratorToken = prev
	if f.metricsAddress == f.listen {
		add(fmt.Errorf("--metrics-address %s is the API's --listen address: health and metrics need an address of their own", f.metricsAddress))
	}

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
		a := &argocd.Options{URL: f.argoURL, CAFile: f.argoCAFile, InsecureSkipVerify: f.argoInsecure, AllowInsecureHTTP: f.allowInsecureHTTP,
			HTTP: httpOpts, RefreshTimeout: f.argoRefreshTimeout, Selector: f.argoSelector, MaxListBytes: int64(f.argoMaxListMiB) << 20}
		if _, err := labels.Parse(f.argoSelector); err != nil {
			add(fmt.Errorf("--argocd-selector %q: %w", f.argoSelector, err))
		}
		if f.argoMaxListMiB <= 0 {
			add(fmt.Errorf("--argocd-max-list-size %d: must be at least 1 (MiB)", f.argoMaxListMiB))
		}
		if err := outbound.CheckURL(f.argoURL, f.allowInsecureHTTP); err != nil {
			add(fmt.Errorf("--argocd-url: %w", err))
		}
		ts, err := readSecret(f.argoTokenFile, env, "DYNAMO_CMP_ARGOCD_TOKEN")
		add(err)
		if ts == nil && err == nil {
			add(errors.New("--argocd-url is set but no token: set --argocd-token-file or DYNAMO_CMP_ARGOCD_TOKEN"))
		}
		a.Token = ts
		o.ArgoCD = a
	}
	if f.webhookURL != "" {
		w := &notify.WebhookOptions{URL: f.webhookURL, AllowInsecureHTTP: f.allowInsecureHTTP, CAFile: f.webhookCAFile,
			QueueSize: f.webhookQueue, MaxAge: f.webhookMaxAge, HTTP: httpOpts}
		if err := outbound.CheckURL(f.webhookURL, f.allowInsecureHTTP); err != nil {
			add(fmt.Errorf("--webhook-url: %w", err))
		}
		ts, err := readSecret(f.webhookTokenFile, env, "DYNAMO_CMP_WEBHOOK_TOKEN")
		add(err)
		w.Token = ts
		sign, err := readSecret(f.webhookSigningFile, env, "DYNAMO_CMP_WEBHOOK_SIGNING_SECRET")
		add(err)
		add(checkLength(sign, "--webhook-signing-secret-file", f.webhookSigningFile, "DYNAMO_CMP_WEBHOOK_SIGNING_SECRET", "signing secret"))
		w.SigningSecret = sign
		prevSign, err := readOptionalSecret(f.webhookPreviousSigningFile, env, "")
		add(err)
		add(checkLength(prevSign, "--webhook-previous-signing-secret-file", f.webhookPreviousSigningFile, "", "signing secret"))
		if prevSign != nil && sign == nil {
			add(errors.New("--webhook-previous-signing-secret-file needs --webhook-signing-secret-file: the previous secret signs alongside the current one"))
		}
		w.PreviousSigningSecret = prevSign
		if sign == nil {
			warnings = append(warnings, "webhook events are not signed: the receiver cannot tell them from forged ones; set --webhook-signing-secret-file (docs/serve.md#webhook-events)")
		}
		o.Webhook = w
	} else if f.webhookSigningFile != "" || f.webhookCAFile != "" {
		add(errors.New("--webhook-signing-secret-file and --webhook-ca-file need --webhook-url"))
	}
	layers, err := progress.ParseLayerPatterns(f.rollbackLayers)
	if err != nil {
		add(fmt.Errorf("--auto-rollback-layers: %w", err))
	}
	o.AutoRollback = progress.AutoRollbackOptions{Layers: layers, Window: f.rollbackWindow}
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
	opsLn, err := net.Listen("tcp", f.metricsAddress)
	if err != nil {
		ln.Close()
		return withCode(ExitFailed, fmt.Errorf("listen on %s (--metrics-address): %w", f.metricsAddress, err))
	}
	if err := srv.Run(cmd.Context(), ln, opsLn); err != nil {
		return withCode(ExitFailed, err)
	}
	return nil
}
