package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Defaults of the service's settings (the command's flags show them).
const (
	DefaultConfigMapName = "dynamo-cmp-generator"
	DefaultPluginName    = "dynamo-cmp-v1"
	DefaultNamespace     = "argocd"
	DefaultCacheTTL      = time.Second
	DefaultPollInterval  = 2 * time.Second
	DefaultStoreTimeout  = 10 * time.Second
	// DefaultFreshnessBudget is how long a generator request holding a snapshot waits for
	// DynamoDB before serving it stale: well inside the 10 s after which Argo CD's
	// ApplicationSet controller gives up on the generator.
	DefaultFreshnessBudget = 2 * time.Second
	DefaultStatusInterval  = progress.DefaultStatusInterval
	DefaultRolloutTimeout  = progress.DefaultRolloutTimeout
	DefaultRollbackWindow  = progress.DefaultRollbackWindow
	DefaultWebhookQueue    = notify.DefaultWebhookQueue
	DefaultWebhookMaxAge   = notify.DefaultWebhookMaxAge
	DefaultRefreshTimeout  = argocd.DefaultRefreshTimeout
	DefaultShutdownTimeout = 20 * time.Second
)

// Store is what the service needs of the store: the union of what its parts need
// (registry.Store, progress.Store, and Ping for readiness). The IAM policies are checked
// against this list (internal/shiptest).
type Store interface {
	ops.Store
	ChangeSeq(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
	LastKnownGood(ctx context.Context, clusters ...string) (map[string]store.LastKnownGood, error)
	PutLastKnownGood(ctx context.Context, lkg store.LastKnownGood) (bool, error)
	UpdateRollout(ctx context.Context, r rollout.Rollout, u store.RolloutUpdate) (rollout.Rollout, error)
	PutObservations(ctx context.Context, obs []store.Observation) error
}

var _ Store = (*store.Store)(nil)

// Options configure the service. Zero values take the defaults above, except where noted.
type Options struct {
	Store   Store
	Logger  *slog.Logger
	Metrics *Metrics
	// GeneratorToken is the bearer token Argo CD's plugin generator sends (required, at
	// least generator.MinTokenBytes long).
	GeneratorToken secret.Secret
	// PreviousGeneratorToken, when set, is accepted too while a token is rotated; its value
	// "" (an optional file removed) ends the rotation window.
	PreviousGeneratorToken secret.Secret
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
	// FreshnessBudget: a generator request waits at most this long for the change counter
	// when a snapshot is in hand, then serves that snapshot (the check goes on in the
	// background). 0 takes DefaultFreshnessBudget; negative waits up to StoreTimeout.
	FreshnessBudget time.Duration
	// ReannotateAfter: after annotating ApplicationSets for a change, annotate them once more
	// this much later, so a controller request answered by a replica that had not yet seen
	// the change is repeated. 0 takes PollInterval + CacheTTL + 1s; negative disables.
	ReannotateAfter time.Duration

	// Kube, when set, enables the ApplicationSet refresh annotations.
	Kube *kube.Options
	// ArgoCD, when set, enables hard refreshes (and syncs of automated Applications following latest), rollout status, last-known-good records and
	// auto-rollback.
	ArgoCD *argocd.Options
	// Webhook, when set, receives the status events.
	Webhook *notify.WebhookOptions

	// StatusInterval is how often Applications are read while a rollout is followed.
	StatusInterval time.Duration
	// RolloutTimeout ends the following of a rollout that never settles.
	RolloutTimeout time.Duration
	// AutoRollback opts layers in to automatic rollback.
	AutoRollback progress.AutoRollbackOptions

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

// withDefaults fills the zero values and checks what cannot be defaulted.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if o.GeneratorToken == nil {
		errs = append(errs, errors.New("no generator token: set --generator-token-file or DYNAMO_CMP_GENERATOR_TOKEN"))
	} else if v, err := o.GeneratorToken.Value(); err != nil {
		errs = append(errs, fmt.Errorf("generator token: %w", err))
	} else if len(v) < generator.MinTokenBytes {
		errs = append(errs, fmt.Errorf("the generator token is %d bytes: use at least %d (openssl rand -hex 32)", len(v), generator.MinTokenBytes))
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
	if o.FreshnessBudget == 0 {
		o.FreshnessBudget = DefaultFreshnessBudget
	}
	if o.ReannotateAfter == 0 {
		o.ReannotateAfter = o.PollInterval + o.CacheTTL + time.Second
	}
	// StatusInterval is defaulted by progress.NewDriver, RolloutTimeout and AutoRollback.Window
	// by progress.New.
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
		c.HTTP = c.HTTP.WithDefaults()
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
		c.HTTP = c.HTTP.WithDefaults()
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
		c.HTTP = c.HTTP.WithDefaults()
		o.Webhook = &c
	}
	if len(o.AutoRollback.Layers) > 0 && o.ArgoCD == nil {
		errs = append(errs, errors.New("auto-rollback needs the Argo CD API (--argocd-url) to see Applications fail"))
	}
	return o, errors.Join(errs...)
}
