package rollout

import (
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
)

// Verdicts on one Application during a rollout.
type verdict int

const (
	pending verdict = iota
	good
	failed
)

// renderErrors are the Application conditions that mean the desired state cannot be
// produced or applied.
var renderErrors = map[string]bool{"ComparisonError": true, "InvalidSpecError": true}

// judge tells whether an Application of a cluster has reached target (Synced and Healthy on
// it), failed on it, or is not there yet. since is when the change was seen; refreshedAt is
// when the last hard refresh of the Application started (zero: none), which is what puts an
// Application following "latest" on the new version.
func judge(app *argocd.Application, pluginName string, target config.ConfigVersion, since, refreshedAt time.Time) (verdict, notify.AppStatus) {
	st := notify.AppStatus{Name: app.Metadata.Name, Namespace: app.Metadata.Namespace, ConfigVersion: config.LatestVersion,
		Sync: app.Status.Sync.Status, Health: app.Status.Health.Status}
	if op := app.Status.OperationState; op != nil {
		st.OperationPhase = op.Phase
	}
	idx, src, ok := app.Ours(pluginName)
	if !ok {
		st.Message = "does not use the plugin"
		return pending, st
	}
	// Argo CD's timestamps have a resolution of one second.
	after := func(t *time.Time) bool { return t != nil && !t.Before(since.Truncate(time.Second)) }
	pinned := src.Version()
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
	compared := argocd.Pick(app.Status.Sync.ComparedTo.Source, app.Status.Sync.ComparedTo.Sources, idx)
	if pinned != "" && (compared == nil || compared.Version() != pinned) {
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
			if s := argocd.Pick(op.SyncResult.Source, op.SyncResult.Sources, idx); s != nil && s.Version() != "" {
				forTarget = s.Version() == pinned
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
