package argocd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// DefaultRefreshTimeout bounds a hard-refresh call when Options.RefreshTimeout is zero.
const DefaultRefreshTimeout = time.Minute

// Options reach the Argo CD API server.
type Options struct {
	// URL is the API server, e.g. https://argocd-server.argocd.svc.
	URL   string
	Token secret.Secret
	// CAFile verifies the server's certificate; InsecureSkipVerify skips the check (Argo CD's
	// default self-signed certificate).
	CAFile             string
	InsecureSkipVerify bool
	// AllowInsecureHTTP accepts an http:// URL (argocd-server with server.insecure, reached
	// inside the cluster); without it only https is accepted, the token being a credential.
	AllowInsecureHTTP bool
	HTTP              outbound.HTTPOptions
	// RefreshTimeout bounds each hard-refresh call: Argo CD answers it only once the
	// Application is reconciled.
	RefreshTimeout time.Duration
	// RefreshConcurrency bounds the hard refreshes in flight (default 4).
	RefreshConcurrency int
	// Selector is the label selector of the Applications the service reads (DefaultSelector;
	// "" reads every Application the token may see). See Reader.
	Selector string
	// MaxListBytes bounds the answer of a list call (DefaultMaxListBytes when zero): a longer
	// one is refused as a whole with an error naming the limit.
	MaxListBytes int64
	// CensusInterval is how often every Application is read to find those of the plugin the
	// selector misses (DefaultCensusInterval when zero). See Reader.
	CensusInterval time.Duration
}

// Client talks to the Argo CD API server.
type Client struct {
	base  string
	token secret.Secret
	// http serves the list calls; refresh the hard refreshes, whose answer comes only once
	// the Application is reconciled (longer per-call timeout).
	http    *retryablehttp.Client
	refresh *retryablehttp.Client
	maxList int64
}

// New returns a client of the API server o names.
func New(o Options, m *outbound.Metrics, log *slog.Logger) (*Client, error) {
	tc, err := outbound.TLSConfig(o.CAFile, o.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("argo cd: %w", err)
	}
	if err := outbound.CheckURL(o.URL, o.AllowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("argo cd: API server URL: %w", err)
	}
	ho := o.HTTP.WithDefaults()
	ro := ho
	ro.Timeout = o.RefreshTimeout
	if ro.Timeout <= 0 {
		ro.Timeout = DefaultRefreshTimeout
	}
	return &Client{
		base:    strings.TrimSuffix(o.URL, "/"),
		token:   o.Token,
		http:    outbound.NewClient(outbound.TargetArgoCD, ho, tc, m, log),
		refresh: outbound.NewClient(outbound.TargetArgoCD, ro, tc, m, log),
		maxList: cmp.Or(o.MaxListBytes, DefaultMaxListBytes),
	}, nil
}

// Application is the part of an Argo CD Application the service reads.
type Application struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Source     *Source  `json:"source"`
		Sources    []Source `json:"sources"`
		SyncPolicy *struct {
			Automated *struct {
				// Enabled (Argo CD 3) turns the automated policy off when false.
				Enabled *bool `json:"enabled"`
				Prune   bool  `json:"prune"`
			} `json:"automated"`
		} `json:"syncPolicy"`
	} `json:"spec"`
	Status struct {
		Sync struct {
			Status     string `json:"status"`
			ComparedTo struct {
				Source  *Source  `json:"source"`
				Sources []Source `json:"sources"`
			} `json:"comparedTo"`
		} `json:"sync"`
		Health struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"health"`
		OperationState *OperationState `json:"operationState"`
		Conditions     []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// OperationState is the part of an Application's status.operationState the service reads
// (Argo CD's v1alpha1.OperationState). While Argo CD retries a failed sync attempt the phase
// stays Running: RetryCount counts the failed attempts, FinishedAt is the end of the last one
// until the next starts, and SyncResult holds that attempt's result until the next starts.
type OperationState struct {
	Operation struct {
		Sync *struct {
			// Source and Sources are what the operation syncs when it was started with them
			// (automated syncs are, and keep them across retries); else the spec at the
			// attempt's start, recorded in SyncResult.
			Source  *Source  `json:"source"`
			Sources []Source `json:"sources"`
		} `json:"sync"`
	} `json:"operation"`
	Phase      string     `json:"phase"`
	Message    string     `json:"message"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	RetryCount int64      `json:"retryCount"`
	SyncResult *struct {
		Source    *Source          `json:"source"`
		Sources   []Source         `json:"sources"`
		Resources []ResourceResult `json:"resources"`
	} `json:"syncResult"`
}

// ResourceResult is one resource of a sync attempt (status: Synced, SyncFailed, Pruned,
// PruneSkipped).
type ResourceResult struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// Operation phases (Argo CD's synccommon.OperationPhase).
const (
	PhaseRunning     = "Running"
	PhaseTerminating = "Terminating"
	PhaseFailed      = "Failed"
	PhaseError       = "Error"
	PhaseSucceeded   = "Succeeded"
)

// ResultSyncFailed is the status of a resource that failed to sync in an attempt.
const ResultSyncFailed = "SyncFailed"

// SyncedSource returns the source at idx (as Ours numbers it) that the operation syncs: the
// operation's own, else the one its current attempt recorded; nil when neither names one.
func (o *OperationState) SyncedSource(idx int) *Source {
	if o == nil {
		return nil
	}
	if s := o.Operation.Sync; s != nil {
		if src := Pick(s.Source, s.Sources, idx); src != nil && src.PluginSpec != nil {
			return src
		}
	}
	if r := o.SyncResult; r != nil {
		if src := Pick(r.Source, r.Sources, idx); src != nil && src.PluginSpec != nil {
			return src
		}
	}
	return nil
}

// AttemptFailed reports whether the operation's latest sync attempt failed, and the first
// resource that failed to sync in it (nil: none named): the operation ended Failed or Error,
// or it is Running while Argo CD retries a failed attempt (RetryCount > 0), or a resource of
// the running attempt failed to sync (Argo CD then runs SyncFail hooks before failing it).
func (o *OperationState) AttemptFailed() (bool, *ResourceResult) {
	if o == nil {
		return false, nil
	}
	var res *ResourceResult
	if o.SyncResult != nil {
		for i := range o.SyncResult.Resources {
			if o.SyncResult.Resources[i].Status == ResultSyncFailed {
				res = &o.SyncResult.Resources[i]
				break
			}
		}
	}
	switch o.Phase {
	case PhaseFailed, PhaseError:
		return true, res
	case PhaseRunning:
		return o.RetryCount > 0 || res != nil, res
	}
	return false, nil
}

// Source is the part of an ApplicationSource the service reads.
type Source struct {
	PluginSpec *struct {
		Name string `json:"name"`
		Env  []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"env"`
		Parameters []struct {
			Name   string  `json:"name"`
			String *string `json:"string"`
		} `json:"parameters"`
	} `json:"plugin"`
}

// Plugin is the source as generate will read it (plugin.NewSource; nil source or no plugin:
// an empty one).
func (s *Source) Plugin() plugin.Source {
	if s == nil || s.PluginSpec == nil {
		return plugin.Source{}
	}
	params := make([]plugin.Param, len(s.PluginSpec.Parameters))
	for i, p := range s.PluginSpec.Parameters {
		params[i] = plugin.Param{Name: p.Name, String: p.String}
	}
	env := make([]plugin.EnvEntry, len(s.PluginSpec.Env))
	for i, e := range s.PluginSpec.Env {
		env[i] = plugin.EnvEntry{Name: e.Name, Value: e.Value}
	}
	return plugin.NewSource(params, env)
}

// Version is the configVersion the source pins, "" when it renders "latest".
func (s *Source) Version() string { return s.Plugin().PinnedVersion() }

// Key names an Application: "<namespace>/<name>".
type Key string

// Key names the Application.
func (a *Application) Key() Key { return Key(a.Metadata.Namespace + "/" + a.Metadata.Name) }

// Ours returns the index of the source that runs the plugin (-1: spec.source) and that
// source; ok is false when the Application does not use the plugin.
func (a *Application) Ours(pluginName string) (idx int, src *Source, ok bool) {
	if s := a.Spec.Source; s != nil && s.PluginSpec != nil && s.PluginSpec.Name == pluginName {
		return -1, s, true
	}
	for i := range a.Spec.Sources {
		if s := &a.Spec.Sources[i]; s.PluginSpec != nil && s.PluginSpec.Name == pluginName {
			return i, s, true
		}
	}
	return 0, nil, false
}

// Pick returns the source at idx as Ours numbers it, in single or multi (nil: none).
func Pick(single *Source, multi []Source, idx int) *Source {
	if idx < 0 {
		return single
	}
	if idx < len(multi) {
		return &multi[idx]
	}
	return nil
}

// Cluster returns the cluster the Application renders, "" when it does not use the plugin.
func (a *Application) Cluster(pluginName string) string {
	_, src, ok := a.Ours(pluginName)
	if !ok {
		return ""
	}
	return src.Plugin().Cluster()
}

// FollowsLatest reports whether the Application renders the current heads (no pinned
// configVersion, or "latest"): only a hard refresh makes Argo CD render it again.
func (a *Application) FollowsLatest(pluginName string) bool {
	_, src, ok := a.Ours(pluginName)
	return ok && src.Version() == ""
}

// Automated reports whether the Application's sync policy is automated, and whether that
// policy prunes.
func (a *Application) Automated() (automated, prune bool) {
	p := a.Spec.SyncPolicy
	if p == nil || p.Automated == nil || (p.Automated.Enabled != nil && !*p.Automated.Enabled) {
		return false, false
	}
	return true, p.Automated.Prune
}

// ListApplications lists every Application the token may see.
func (c *Client) ListApplications(ctx context.Context) ([]Application, error) {
	return c.List(ctx, "")
}

// List lists the Applications the token may see that match the label selector (Kubernetes
// syntax; "" matches every one): GET /api/v1/applications?selector=..., which argocd-server
// answers from its informer cache (server/application/application.go, List: labels.Parse of
// the selector, then the lister's List). An answer longer than the client's MaxListBytes is
// refused as a whole (*outbound.TooLargeError), never decoded in part.
//
// Every field of the Application is sent: Argo CD's `fields` query parameter selects only
// from a fixed list (pkg/apiclient/application/forwarder_overwrite.go, appFields), which has
// no status.sync.comparedTo, status.conditions, or the operation's message, retryCount,
// syncResult and source — all of which the rollout judgement reads.
func (c *Client) List(ctx context.Context, selector string) ([]Application, error) {
	const path = "/api/v1/applications"
	u := c.base + path
	if selector != "" {
		u += "?" + url.Values{"selector": {selector}}.Encode()
	}
	var list struct {
		Items []Application `json:"items"`
	}
	err := (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: u, Path: path, Token: c.token, MaxBytes: c.maxList}).Do(ctx, c.http, &list)
	var tooLarge *outbound.TooLargeError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("%w (--argocd-max-list-size; read only the plugin's Applications with --argocd-selector)", err)
	}
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// HardRefresh asks Argo CD to render the Application again without its manifest cache
// (GET /api/v1/applications/{name}?refresh=hard); Argo CD answers once it is reconciled.
// The API server sets the refresh annotations itself: since Argo CD 3.6 with
// argocd.argoproj.io/refresh-timestamp, so a refresh asked for while the controller is
// refreshing the Application is kept rather than lost (3.5 sets the refresh annotation only).
func (c *Client) HardRefresh(ctx context.Context, app *Application) error {
	path := "/api/v1/applications/" + url.PathEscape(app.Metadata.Name)
	q := url.Values{"refresh": {"hard"}}
	if app.Metadata.Namespace != "" {
		q.Set("appNamespace", app.Metadata.Namespace)
	}
	return (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: c.base + path + "?" + q.Encode(), Path: path, Token: c.token}).Do(ctx, c.refresh, nil)
}

// ErrOperationInProgress is the answer to a sync request while another operation (a sync)
// runs on the Application.
var ErrOperationInProgress = errors.New("another operation is already in progress")

// Sync asks Argo CD to sync the Application to its target revision now
// (POST /api/v1/applications/{name}/sync), pruning as its automated policy does. Argo CD
// starts the operation and answers at once; while another operation runs it refuses
// (gRPC FailedPrecondition, HTTP 400), which is returned as ErrOperationInProgress.
func (c *Client) Sync(ctx context.Context, app *Application) error {
	path := "/api/v1/applications/" + url.PathEscape(app.Metadata.Name) + "/sync"
	_, prune := app.Automated()
	body, _ := json.Marshal(syncRequest{Name: app.Metadata.Name, AppNamespace: app.Metadata.Namespace, Prune: prune})
	err := (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodPost, URL: c.base + path, Path: path, Token: c.token, Body: body}).Do(ctx, c.http, nil)
	var se *outbound.StatusError
	if errors.As(err, &se) && (se.Code == http.StatusBadRequest || se.Code == http.StatusConflict) && strings.Contains(se.Message, ErrOperationInProgress.Error()) {
		return fmt.Errorf("sync Application %s: %w", app.Key(), ErrOperationInProgress)
	}
	if err != nil {
		return fmt.Errorf("sync Application %s: %w", app.Key(), err)
	}
	return nil
}

// TerminateOperation asks Argo CD to end the operation running on the Application
// (DELETE /api/v1/applications/{name}/operation, the `applications, sync` action): Argo CD
// terminates it without further retries and its automated sync, if any, then syncs what the
// spec names. No operation running is not an error.
func (c *Client) TerminateOperation(ctx context.Context, app *Application) error {
	path := "/api/v1/applications/" + url.PathEscape(app.Metadata.Name) + "/operation"
	q := url.Values{}
	if app.Metadata.Namespace != "" {
		q.Set("appNamespace", app.Metadata.Namespace)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	// argocd-server refuses any request but a GET without a JSON content type (HTTP 415).
	err := (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodDelete, URL: u, Path: path, Token: c.token,
		Headers: map[string]string{"Content-Type": "application/json"}}).Do(ctx, c.http, nil)
	var se *outbound.StatusError
	if errors.As(err, &se) && se.Code == http.StatusBadRequest && strings.Contains(se.Message, "No operation is in progress") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("terminate the operation of Application %s: %w", app.Key(), err)
	}
	return nil
}

// syncRequest is the part of Argo CD's ApplicationSyncRequest the service sends: the
// revision, sync options and retry strategy are left to the Application's spec.
type syncRequest struct {
	Name         string `json:"name"`
	AppNamespace string `json:"appNamespace,omitempty"`
	Prune        bool   `json:"prune"`
}
