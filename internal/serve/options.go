package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Defaults of the service's settings (the command's flags show them).
const (
	DefaultConfigMapName   = "dynamo-cmp-generator"
	DefaultPluginName      = "dynamo-cmp-v1"
	DefaultNamespace       = "argocd"
	DefaultCacheTTL        = time.Second
	DefaultPollInterval    = 2 * time.Second
	DefaultStoreTimeout    = 10 * time.Second
	DefaultStatusInterval  = 5 * time.Second
	DefaultRolloutTimeout  = 15 * time.Minute
	DefaultRollbackWindow  = 10 * time.Minute
	DefaultWebhookQueue    = 1000
	DefaultWebhookMaxAge   = time.Hour
	DefaultRefreshTimeout  = time.Minute
	DefaultShutdownTimeout = 20 * time.Second

	// AutoRollbackActor is the actor of the audit records of automatic rollbacks.
	AutoRollbackActor = "dynamo-cmp serve (auto-rollback)"
	// RefreshAnnotation is the annotation that makes the ApplicationSet controller reconcile
	// an ApplicationSet at once (Argo CD's own webhook handler sets it; the controller removes
	// it after reconciling).
	RefreshAnnotation = "argocd.argoproj.io/application-set-refresh"
)

// Store is what the service needs of the store.
type Store interface {
	ops.Store
	ChangeSeq(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
	LastKnownGood(ctx context.Context, clusters ...string) (map[string]store.LastKnownGood, error)
	PutLastKnownGood(ctx context.Context, lkg store.LastKnownGood) (bool, error)
}

var _ Store = (*store.Store)(nil)

// Options configure the service. Zero values take the defaults above, except where noted.
type Options struct {
	Store   Store
	Logger  *slog.Logger
	Metrics *Metrics
	// GeneratorToken is the bearer token Argo CD's plugin generator sends (required).
	GeneratorToken Secret
	// ConfigMapName is the ConfigMap the ApplicationSets' plugin generators name
	// (configMapRef.name): the ApplicationSets naming it are the ones annotated on a change.
	ConfigMapName string
	// PluginName is the CMP name Applications use ("dynamo-cmp-v1").
	PluginName string
	// CacheTTL is how long the generator serves the registry snapshot without asking
	// DynamoDB whether it changed. 0 checks the change counter on every request.
	CacheTTL time.Duration
	// PollInterval is how often the watcher reads the change counter.
	PollInterval time.Duration
	// StoreTimeout bounds each DynamoDB read the service makes.
	StoreTimeout time.Duration
	// ReannotateAfter: after annotating ApplicationSets for a change, annotate them once more
	// this much later, so a controller request answered by a replica that had not yet seen
	// the change is repeated. 0 takes PollInterval + CacheTTL + 1s; negative disables.
	ReannotateAfter time.Duration

	// Kube, when set, enables the ApplicationSet refresh annotations.
	Kube *KubeOptions
	// ArgoCD, when set, enables hard refreshes, rollout status, last-known-good records and
	// auto-rollback.
	ArgoCD *ArgoCDOptions
	// Webhook, when set, receives the status events.
	Webhook *WebhookOptions

	// StatusInterval is how often Applications are read while a rollout is followed.
	StatusInterval time.Duration
	// RolloutTimeout ends the following of a rollout that never settles.
	RolloutTimeout time.Duration
	// AutoRollback opts layers in to automatic rollback.
	AutoRollback AutoRollbackOptions

	// ShutdownDelay keeps serving (with /readyz failing) this long after the context is
	// cancelled, so endpoints drop the pod before it stops accepting connections.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the graceful shutdown (in-flight requests, webhook flush).
	ShutdownTimeout time.Duration
	// Replica names this process in events and logs (the pod name).
	Replica string
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// HTTPOptions bound the outbound calls of one client. The zero value means
// DefaultHTTPOptions; otherwise zero fields take their defaults, except RetryMax (0: no retry).
type HTTPOptions struct {
	// Timeout bounds each attempt.
	Timeout time.Duration
	// RetryMax is the number of retries after the first attempt.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff (and a Retry-After).
	RetryWaitMin, RetryWaitMax time.Duration
}

// DefaultHTTPOptions are the outbound call bounds used when none are given.
var DefaultHTTPOptions = HTTPOptions{Timeout: 10 * time.Second, RetryMax: 4, RetryWaitMin: 250 * time.Millisecond, RetryWaitMax: 5 * time.Second}

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o == (HTTPOptions{}) {
		return DefaultHTTPOptions
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultHTTPOptions.Timeout
	}
	if o.RetryMax < 0 {
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultHTTPOptions.RetryWaitMin
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = max(DefaultHTTPOptions.RetryWaitMax, o.RetryWaitMin)
	}
	return o
}

// KubeOptions reach the Kubernetes API.
type KubeOptions struct {
	// URL is the API server (in cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
	URL string
	// Token is the bearer token (in cluster: the service account token file, re-read as it
	// rotates).
	Token Secret
	// CAFile verifies the API server's certificate (in cluster: the service account's ca.crt).
	CAFile string
	// Namespaces are where ApplicationSets are looked for.
	Namespaces []string
	HTTP       HTTPOptions
}

// ArgoCDOptions reach the Argo CD API server.
type ArgoCDOptions struct {
	// URL is the API server, e.g. https://argocd-server.argocd.svc.
	URL   string
	Token Secret
	// CAFile verifies the server's certificate; InsecureSkipVerify skips the check (Argo CD's
	// default self-signed certificate).
	CAFile             string
	InsecureSkipVerify bool
	HTTP               HTTPOptions
	// RefreshTimeout bounds each hard-refresh call: Argo CD answers it only once the
	// Application is reconciled.
	RefreshTimeout time.Duration
	// RefreshConcurrency bounds the hard refreshes in flight (default 4).
	RefreshConcurrency int
}

// WebhookOptions configure the status webhook (the Portal).
type WebhookOptions struct {
	URL string
	// Token, when set, is sent as a bearer token.
	Token Secret
	// QueueSize bounds the events waiting for delivery; the oldest are dropped beyond it.
	QueueSize int
	// MaxAge is how long an event is retried before it is dropped.
	MaxAge time.Duration
	HTTP   HTTPOptions
}

// AutoRollbackOptions opt layers in to automatic rollback.
type AutoRollbackOptions struct {
	// Layers lists the layers rolled back automatically when the Applications of a cluster
	// they affect fail to sync or go Degraded within Window of a publish.
	Layers LayerPatterns
	Window time.Duration
}

// LayerPatterns match layer names: "global", "env/<name>", "cluster/<name>", and the
// wildcards "env/*", "cluster/*" and "*".
type LayerPatterns []string

// ParseLayerPatterns checks a list of layer patterns (empty items are skipped).
func ParseLayerPatterns(list []string) (LayerPatterns, error) {
	var out LayerPatterns
	var errs []error
	for _, p := range list {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			continue
		case p == "*" || p == "env/*" || p == "cluster/*":
		default:
			if _, err := config.ParseLayerRef(p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// Match reports whether ref is one of the patterns.
func (ps LayerPatterns) Match(ref config.LayerRef) bool {
	name := ref.String()
	for _, p := range ps {
		switch {
		case p == "*", p == name:
			return true
		case p == "env/*" && ref.Scope == config.ScopeEnv, p == "cluster/*" && ref.Scope == config.ScopeCluster:
			return true
		}
	}
	return false
}

// Secret is a credential read when needed (so a rotated file is picked up).
type Secret interface {
	Value() (string, error)
}

// StaticSecret is a secret given as a value (from the environment).
type StaticSecret string

// Value implements Secret.
func (s StaticSecret) Value() (string, error) {
	if strings.TrimSpace(string(s)) == "" {
		return "", errors.New("empty secret")
	}
	return strings.TrimSpace(string(s)), nil
}

// secretRecheck is how long a file secret is used before the file is read again.
const secretRecheck = 10 * time.Second

// FileSecret is a secret read from a file (a mounted Secret key, a service account token),
// re-read at most every 10 seconds; surrounding white space is ignored.
type FileSecret struct {
	Path string

	mu     sync.Mutex
	val    string
	readAt time.Time
}

// NewFileSecret returns the secret held in path.
func NewFileSecret(path string) *FileSecret { return &FileSecret{Path: path} }

// Value implements Secret. When the file cannot be read again, the last value read is kept.
func (f *FileSecret) Value() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.val != "" && time.Since(f.readAt) < secretRecheck {
		return f.val, nil
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		if f.val != "" {
			return f.val, nil
		}
		return "", fmt.Errorf("read secret file %s: %w", f.Path, errors.Unwrap(err))
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		if f.val != "" {
			return f.val, nil
		}
		return "", fmt.Errorf("secret file %s is empty", f.Path)
	}
	f.val, f.readAt = v, time.Now()
	return v, nil
}

// withDefaults fills the zero values and checks what cannot be defaulted.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if o.GeneratorToken == nil {
		errs = append(errs, errors.New("no generator token: set --generator-token-file or DYNAMO_CMP_GENERATOR_TOKEN"))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.ConfigMapName == "" {
		o.ConfigMapName = DefaultConfigMapName
	}
	if o.PluginName == "" {
		o.PluginName = DefaultPluginName
	}
	if o.CacheTTL < 0 {
		o.CacheTTL = 0
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = DefaultStoreTimeout
	}
	if o.ReannotateAfter == 0 {
		o.ReannotateAfter = o.PollInterval + o.CacheTTL + time.Second
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.RolloutTimeout <= 0 {
		o.RolloutTimeout = DefaultRolloutTimeout
	}
	if o.AutoRollback.Window <= 0 {
		o.AutoRollback.Window = DefaultRollbackWindow
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Replica == "" {
		o.Replica, _ = os.Hostname()
	}
	if k := o.Kube; k != nil {
		c := *k
		if c.URL == "" {
			errs = append(errs, errors.New("kubernetes: no API server URL"))
		}
		if len(c.Namespaces) == 0 {
			c.Namespaces = []string{DefaultNamespace}
		}
		c.HTTP = c.HTTP.withDefaults()
		o.Kube = &c
	}
	if a := o.ArgoCD; a != nil {
		c := *a
		if c.URL == "" {
			errs = append(errs, errors.New("argo cd: no API server URL"))
		}
		if c.Token == nil {
			errs = append(errs, errors.New("argo cd: no token: set --argocd-token-file or DYNAMO_CMP_ARGOCD_TOKEN"))
		}
		c.HTTP = c.HTTP.withDefaults()
		if c.RefreshTimeout <= 0 {
			c.RefreshTimeout = DefaultRefreshTimeout
		}
		if c.RefreshConcurrency <= 0 {
			c.RefreshConcurrency = 4
		}
		o.ArgoCD = &c
	}
	if w := o.Webhook; w != nil {
		c := *w
		if c.URL == "" {
			errs = append(errs, errors.New("webhook: no URL"))
		}
		if c.QueueSize <= 0 {
			c.QueueSize = DefaultWebhookQueue
		}
		if c.MaxAge <= 0 {
			c.MaxAge = DefaultWebhookMaxAge
		}
		c.HTTP = c.HTTP.withDefaults()
		o.Webhook = &c
	}
	if len(o.AutoRollback.Layers) > 0 && o.ArgoCD == nil {
		errs = append(errs, errors.New("auto-rollback needs the Argo CD API (--argocd-url) to see Applications fail"))
	}
	return o, errors.Join(errs...)
}
