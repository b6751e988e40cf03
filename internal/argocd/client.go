package argocd

import (
	"context"
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
	HTTP               outbound.HTTPOptions
	// RefreshTimeout bounds each hard-refresh call: Argo CD answers it only once the
	// Application is reconciled.
	RefreshTimeout time.Duration
	// RefreshConcurrency bounds the hard refreshes in flight (default 4).
	RefreshConcurrency int
}

// Client talks to the Argo CD API server.
type Client struct {
	base  string
	token secret.Secret
	// http serves the list calls; refresh the hard refreshes, whose answer comes only once
	// the Application is reconciled (longer per-call timeout).
	http    *retryablehttp.Client
	refresh *retryablehttp.Client
}

// New returns a client of the API server o names.
func New(o Options, m *outbound.Metrics, log *slog.Logger) (*Client, error) {
	tc, err := outbound.TLSConfig(o.CAFile, o.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("argo cd: %w", err)
	}
	if _, err := url.Parse(o.URL); err != nil {
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
	}, nil
}

// Application is the part of an Argo CD Application the service reads.
type Application struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Source  *Source  `json:"source"`
		Sources []Source `json:"sources"`
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
		OperationState *struct {
			Phase      string     `json:"phase"`
			Message    string     `json:"message"`
			StartedAt  *time.Time `json:"startedAt"`
			SyncResult *struct {
				Source  *Source  `json:"source"`
				Sources []Source `json:"sources"`
			} `json:"syncResult"`
		} `json:"operationState"`
		Conditions []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
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

// Plugin is the source as the plugin reads it (nil source or no plugin: an empty one).
func (s *Source) Plugin() plugin.Source {
	var ps plugin.Source
	if s == nil || s.PluginSpec == nil {
		return ps
	}
	for _, p := range s.PluginSpec.Parameters {
		if p.String == nil {
			continue
		}
		if ps.Params == nil {
			ps.Params = map[string]string{}
		}
		if _, dup := ps.Params[p.Name]; !dup {
			ps.Params[p.Name] = *p.String
		}
	}
	for _, e := range s.PluginSpec.Env {
		if ps.Env == nil {
			ps.Env = map[string]string{}
		}
		if _, dup := ps.Env[e.Name]; !dup {
			ps.Env[e.Name] = e.Value
		}
	}
	return ps
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

// ListApplications lists every Application the token may see.
func (c *Client) ListApplications(ctx context.Context) ([]Application, error) {
	const path = "/api/v1/applications"
	var list struct {
		Items []Application `json:"items"`
	}
	if err := (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: c.base + path, Path: path, Token: c.token}).Do(ctx, c.http, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// HardRefresh asks Argo CD to render the Application again without its manifest cache
// (GET /api/v1/applications/{name}?refresh=hard); Argo CD answers once it is reconciled.
func (c *Client) HardRefresh(ctx context.Context, app *Application) error {
	path := "/api/v1/applications/" + url.PathEscape(app.Metadata.Name)
	q := url.Values{"refresh": {"hard"}}
	if app.Metadata.Namespace != "" {
		q.Set("appNamespace", app.Metadata.Namespace)
	}
	return (outbound.Call{Target: outbound.TargetArgoCD, Method: http.MethodGet, URL: c.base + path + "?" + q.Encode(), Path: path, Token: c.token}).Do(ctx, c.refresh, nil)
}
