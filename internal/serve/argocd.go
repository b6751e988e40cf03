package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
)

// argoClient talks to the Argo CD API server: it lists Applications and hard-refreshes them.
type argoClient struct {
	base  string
	token Secret
	// http serves the list calls; refresh the hard refreshes, whose answer comes only once
	// the Application is reconciled (longer per-call timeout).
	http    *retryablehttp.Client
	refresh *retryablehttp.Client
}

func newArgoClient(o *ArgoCDOptions, m *Metrics, log *slog.Logger) (*argoClient, error) {
	tc, err := tlsConfig(o.CAFile, o.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("argo cd: %w", err)
	}
	if _, err := url.Parse(o.URL); err != nil {
		return nil, fmt.Errorf("argo cd: API server URL: %w", err)
	}
	ro := o.HTTP
	ro.Timeout = o.RefreshTimeout
	return &argoClient{
		base:    strings.TrimSuffix(o.URL, "/"),
		token:   o.Token,
		http:    newClient(targetArgoCD, o.HTTP, tc, m, log),
		refresh: newClient(targetArgoCD, ro, tc, m, log),
	}, nil
}

// application is the part of an Argo CD Application the service reads.
type application struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Source  *appSource  `json:"source"`
		Sources []appSource `json:"sources"`
	} `json:"spec"`
	Status struct {
		Sync struct {
			Status     string `json:"status"`
			ComparedTo struct {
				Source  *appSource  `json:"source"`
				Sources []appSource `json:"sources"`
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
				Source  *appSource  `json:"source"`
				Sources []appSource `json:"sources"`
			} `json:"syncResult"`
		} `json:"operationState"`
		Conditions []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// appSource is the part of an ApplicationSource the service reads.
type appSource struct {
	Plugin *struct {
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

// param returns a plugin parameter as generate reads it: the parameter, else the plugin env
// entry (CLUSTER, CONFIG_VERSION).
func (s *appSource) param(name, envName string) string {
	if s == nil || s.Plugin == nil {
		return ""
	}
	for _, p := range s.Plugin.Parameters {
		if p.Name == name && p.String != nil {
			return strings.TrimSpace(*p.String)
		}
	}
	for _, e := range s.Plugin.Env {
		if e.Name == envName {
			return strings.TrimSpace(e.Value)
		}
	}
	return ""
}

func (s *appSource) version() string {
	v := s.param(plugin.ParamConfigVersion, "CONFIG_VERSION")
	if v == config.LatestVersion {
		return ""
	}
	return v
}

// appKey names an Application: "<namespace>/<name>".
type appKey string

func (a *application) key() appKey { return appKey(a.Metadata.Namespace + "/" + a.Metadata.Name) }

// ours returns the index of the source that runs the plugin (-1: spec.source) and that
// source; ok is false when the Application does not use the plugin.
func (a *application) ours(pluginName string) (idx int, src *appSource, ok bool) {
	if s := a.Spec.Source; s != nil && s.Plugin != nil && s.Plugin.Name == pluginName {
		return -1, s, true
	}
	for i := range a.Spec.Sources {
		if s := &a.Spec.Sources[i]; s.Plugin != nil && s.Plugin.Name == pluginName {
			return i, s, true
		}
	}
	return 0, nil, false
}

func pick(single *appSource, multi []appSource, idx int) *appSource {
	if idx < 0 {
		return single
	}
	if idx < len(multi) {
		return &multi[idx]
	}
	return nil
}

// cluster returns the cluster the Application renders, "" when it does not use the plugin.
func (a *application) cluster(pluginName string) string {
	_, src, ok := a.ours(pluginName)
	if !ok {
		return ""
	}
	return src.param(plugin.ParamCluster, "CLUSTER")
}

// followsLatest reports whether the Application renders the current heads (no pinned
// configVersion, or "latest"): only a hard refresh makes Argo CD render it again.
func (a *application) followsLatest(pluginName string) bool {
	_, src, ok := a.ours(pluginName)
	return ok && src.version() == ""
}

// listApplications lists every Application the token may see.
func (c *argoClient) listApplications(ctx context.Context) ([]application, error) {
	const path = "/api/v1/applications"
	var list struct {
		Items []application `json:"items"`
	}
	if err := (call{target: targetArgoCD, method: http.MethodGet, url: c.base + path, path: path, token: c.token}).do(ctx, c.http, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// hardRefresh asks Argo CD to render the Application again without its manifest cache
// (GET /api/v1/applications/{name}?refresh=hard); Argo CD answers once it is reconciled.
func (c *argoClient) hardRefresh(ctx context.Context, app *application) error {
	path := "/api/v1/applications/" + url.PathEscape(app.Metadata.Name)
	q := url.Values{"refresh": {"hard"}}
	if app.Metadata.Namespace != "" {
		q.Set("appNamespace", app.Metadata.Namespace)
	}
	return (call{target: targetArgoCD, method: http.MethodGet, url: c.base + path + "?" + q.Encode(), path: path, token: c.token}).do(ctx, c.refresh, nil)
}

// Verdicts on one Application during a rollout.
type verdict int

const (
	pending verdict = iota
	good
	failed
)

// AppStatus is an Application's state as events report it.
type AppStatus struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// ConfigVersion is the version the Application pins ("latest" when none).
	ConfigVersion  string `json:"configVersion"`
	Sync           string `json:"sync"`
	Health         string `json:"health"`
	OperationPhase string `json:"operationPhase,omitempty"`
	// Message says why the Application failed or is not done yet.
	Message string `json:"message,omitempty"`
}

// renderErrors are the Application conditions that mean the desired state cannot be
// produced or applied.
var renderErrors = map[string]bool{"ComparisonError": true, "InvalidSpecError": true}

// judge tells whether an Application of a cluster has reached target (Synced and Healthy on
// it), failed on it, or is not there yet. since is when the change was seen; refreshedAt is
// when the last hard refresh of the Application started (zero: none), which is what puts an
// Application following "latest" on the new version.
func judge(app *application, pluginName string, target config.ConfigVersion, since, refreshedAt time.Time) (verdict, AppStatus) {
	st := AppStatus{Name: app.Metadata.Name, Namespace: app.Metadata.Namespace, ConfigVersion: config.LatestVersion,
		Sync: app.Status.Sync.Status, Health: app.Status.Health.Status}
	if op := app.Status.OperationState; op != nil {
		st.OperationPhase = op.Phase
	}
	idx, src, ok := app.ours(pluginName)
	if !ok {
		st.Message = "does not use the plugin"
		return pending, st
	}
	// Argo CD's timestamps have a resolution of one second.
	after := func(t *time.Time) bool { return t != nil && !t.Before(since.Truncate(time.Second)) }
	pinned := src.version()
	if pinned != "" {
		st.ConfigVersion = pinned
		if pinned != target.String() {
			st.Message = "the Application still pins " + pinned
			return pending, st
		}
	} else if refreshedAt.IsZero() || refreshedAt.Before(since) {
		st.Message = "waiting for the hard refresh"
		return pending, st
	}
	// Argo CD records what it compared with even when rendering failed, and replaces the
	// comparison conditions on every comparison: once comparedTo names the target, the
	// conditions are about it.
	compared := pick(app.Status.Sync.ComparedTo.Source, app.Status.Sync.ComparedTo.Sources, idx)
	if pinned != "" && (compared == nil || compared.version() != pinned) {
		st.Message = "not yet compared with " + pinned
		return pending, st
	}
	for _, c := range app.Status.Conditions {
		if renderErrors[c.Type] {
			st.Message = c.Type + ": " + firstLine(c.Message)
			return failed, st
		}
	}
	if op := app.Status.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
		forTarget := after(op.StartedAt)
		if op.SyncResult != nil && pinned != "" {
			if s := pick(op.SyncResult.Source, op.SyncResult.Sources, idx); s != nil && s.version() != "" {
				forTarget = s.version() == pinned
			}
		}
		if forTarget {
			st.Message = "sync " + strings.ToLower(op.Phase) + ": " + firstLine(op.Message)
			return failed, st
		}
	}
	if app.Status.Health.Status == "Degraded" {
		st.Message = "Degraded: " + firstLine(app.Status.Health.Message)
		return failed, st
	}
	if app.Status.Sync.Status == "Synced" && app.Status.Health.Status == "Healthy" {
		return good, st
	}
	st.Message = "sync " + orUnknown(app.Status.Sync.Status) + ", health " + orUnknown(app.Status.Health.Status)
	return pending, st
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}
