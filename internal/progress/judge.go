package progress

import (
	"fmt"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Verdicts on one Application during a rollout.
type verdict int

const (
	pending verdict = iota
	good
	failed
)

// failConditions are the Application conditions that fail it once it compares the version
// it is served: the desired state cannot be produced (ComparisonError, InvalidSpecError), or
// its automated sync cannot run (SyncError: the last attempt to sync this spec failed, or the
// sync would delete every resource).
var failConditions = map[string]bool{"ComparisonError": true, "InvalidSpecError": true, "SyncError": true}

// judge tells whether an Application of a cluster has reached target (Synced and Healthy on
// it), failed on it, or is not there yet. since is when the change was seen; refreshedAt is
// when the last hard refresh of the Application started (zero: none), which is what puts an
// Application following "latest" on the new version.
//
// A sync attempt of the target that failed fails the Application at once, also while Argo CD
// retries it (the operation then stays Running until the retries are spent, with the new
// version partly applied): see failedAttempt.
func judge(app *argocd.Application, pluginName string, target config.ConfigVersion, since, refreshedAt time.Time) (verdict, event.AppStatus) {
	st := event.AppStatus{Name: app.Metadata.Name, Namespace: app.Metadata.Namespace, ConfigVersion: config.LatestVersion,
		Sync: app.Status.Sync.Status, Health: app.Status.Health.Status}
	if op := app.Status.OperationState; op != nil {
		st.OperationPhase, st.RetryCount = op.Phase, op.RetryCount
	}
	idx, src, ok := app.Ours(pluginName)
	if !ok {
		st.Message = "does not use the plugin"
		return pending, st
	}
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
		if failConditions[c.Type] {
			st.Message = c.Type + ": " + firstLine(c.Message)
			return failed, st
		}
	}
	if msg, ok := failedAttempt(app.Status.OperationState, idx, pinned, since); ok {
		st.Message = msg
		return failed, st
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

// clusterJudgement is the judgement of one cluster's Applications on one configVersion.
type clusterJudgement struct {
	// apps are the statuses of every Application, in the order given.
	apps []event.AppStatus
	// goods counts the Applications Synced and Healthy on it.
	goods int
	// failures and pendings are the statuses of the failed and of the pending ones, in order.
	failures, pendings []event.AppStatus
}

// judgeCluster judges each Application of a cluster (judge) on target: since is when the
// change was seen, refreshedAt tells when the last hard refresh of an Application started.
// The tracker and the driver both judge a cluster with it.
func judgeCluster(list []*argocd.Application, pluginName string, target config.ConfigVersion, since time.Time, refreshedAt func(argocd.Key) time.Time) clusterJudgement {
	var j clusterJudgement // apps stays nil for no Application
	if len(list) > 0 {
		j.apps = make([]event.AppStatus, 0, len(list))
	}
	for _, app := range list {
		v, st := judge(app, pluginName, target, since, refreshedAt(app.Key()))
		j.apps = append(j.apps, st)
		switch v {
		case good:
			j.goods++
		case failed:
			j.failures = append(j.failures, st)
		default:
			j.pendings = append(j.pendings, st)
		}
	}
	return j
}

// failedAttempt tells whether op reports a failed sync attempt of the version pinned (""
// for an Application following latest) and says what failed. The operation must name the
// version it syncs (its source, or its attempt's), so an old failed operation of an earlier
// version never counts; only an operation that ended (Failed, Error) without naming one is
// taken as the target's when it started after since (an Application following latest names
// no version at all). A Running operation counts once an attempt of it failed: Argo CD is
// retrying it (RetryCount > 0), or a resource of the running attempt failed to sync.
func failedAttempt(op *argocd.OperationState, idx int, pinned string, since time.Time) (string, bool) {
	bad, res := op.AttemptFailed()
	if !bad {
		return "", false
	}
	named := ""
	if s := op.SyncedSource(idx); s != nil {
		named = s.Version()
	}
	ended := op.Phase == argocd.PhaseFailed || op.Phase == argocd.PhaseError
	switch {
	case pinned != "" && named != "":
		if named != pinned {
			return "", false
		}
	case pinned != "" && !ended:
		return "", false // the running attempt does not say what it syncs yet
	default:
		// Argo CD's timestamps have a resolution of one second.
		if op.StartedAt == nil || op.StartedAt.Before(since.Truncate(time.Second)) {
			return "", false
		}
	}
	what := firstLine(op.Message)
	if res != nil {
		what = res.Kind + " " + strings.TrimPrefix(res.Namespace+"/"+res.Name, "/") + ": " + firstLine(res.Message)
	}
	if ended {
		return "sync " + strings.ToLower(op.Phase) + ": " + what, true
	}
	if op.RetryCount > 0 {
		return fmt.Sprintf("sync attempt failed (Argo CD retries it, retry %d): %s", op.RetryCount, what), true
	}
	return "sync attempt failed: " + what, true
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return oneline.Cut(s, 300)
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}
