package progress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
)

// argoState is what Argo CD reports of a cluster's Application in the model: always about
// the configVersion the generator serves the cluster (the ApplicationSet controller has put
// it in the Application's spec, and Argo CD has compared with it), except where it says so.
type argoState int

const (
	// argoHealthy: Synced and Healthy, the last sync succeeded.
	argoHealthy argoState = iota
	// argoOutOfSync: OutOfSync and Healthy, the last sync succeeded: not applied yet, or
	// drift once the cluster had been Synced and Healthy.
	argoOutOfSync
	// argoProgressing: an automated sync is running and no attempt failed yet.
	argoProgressing
	// argoRetrying: an attempt failed (a SyncFailed resource) and Argo CD retries: the
	// operation stays Running, with retryCount ≥ 1, until its retries are spent.
	argoRetrying
	// argoFailed: the sync failed for good (phase Failed, retries spent).
	argoFailed
	// argoDegraded: Synced, health Degraded.
	argoDegraded
	// argoOldFailure: Synced and Healthy; the last operation is a failed sync of an earlier
	// configVersion (the cluster was last served another one).
	argoOldFailure
	// argoNoApp: no Application uses the plugin for the cluster yet.
	argoNoApp
)

var argoStates = []argoState{argoHealthy, argoOutOfSync, argoProgressing, argoRetrying, argoFailed, argoDegraded, argoOldFailure, argoNoApp}

func (s argoState) String() string {
	return [...]string{"Synced/Healthy", "OutOfSync", "Progressing (sync running)", "failed attempt, retrying (Running, retryCount ≥ 1)",
		"sync Failed", "Degraded", "Synced/Healthy after a failed sync of an earlier version", "no Application"}[s]
}

// Verdicts of the model on one cluster of a wave, as the intended behaviour has them.
type modelVerdict int

const (
	vGood modelVerdict = iota
	vPending
	vFailed
)

// verdict is how a cluster in state s counts in its wave: Synced and Healthy on what it is
// served is good; a failed attempt of it (retrying or not) and Degraded fail it; anything
// else is not there yet.
func (s argoState) verdict() modelVerdict {
	switch s {
	case argoHealthy, argoOldFailure:
		return vGood
	case argoRetrying, argoFailed, argoDegraded:
		return vFailed
	}
	return vPending
}

// modelApp is one cluster's Application as the Argo CD API answers it.
type modelApp struct {
	cluster, env string
	served       string // the configVersion in the spec and in status.sync.comparedTo
	previous     string // the configVersion served before ("" if none)
	state        argoState
	now          time.Time
}

func (a modelApp) source(version string) map[string]any {
	return map[string]any{
		"repoURL": "https://git.example.com/platform/bootstrap.git", "path": "dynamo-cmp", "targetRevision": "HEAD",
		"plugin": map[string]any{"name": argocdtest.PluginName, "parameters": []any{
			map[string]any{"name": "cluster", "string": a.cluster},
			map[string]any{"name": "environment", "string": a.env},
			map[string]any{"name": "configVersion", "string": version},
			map[string]any{"name": "components", "array": []any{"namespaces", "rbac", "network", "calico", "manifests"}},
		}},
	}
}

// operation is status.operationState: an automated sync of version with the shipped
// ApplicationSet's retry policy; failed marks its ResourceQuota SyncFailed.
func (a modelApp) operation(phase, message, version string, retries int, failed bool) map[string]any {
	stamp := func(d time.Duration) string { return a.now.Add(-d).UTC().Format(time.RFC3339) }
	res := map[string]any{"group": "", "version": "v1", "kind": "ResourceQuota", "namespace": "own-" + a.cluster, "name": a.env + "-quota",
		"status": "Synced", "message": "resourcequota/" + a.env + "-quota configured", "syncPhase": "Sync"}
	if failed {
		res["status"] = "SyncFailed"
		res["message"] = `admission webhook "quota.policy.example.com" denied the request: requests.cpu exceeds the team budget`
	}
	op := map[string]any{
		"operation": map[string]any{
			"sync":        map[string]any{"revision": "HEAD", "syncOptions": []any{"ServerSideApply=true"}},
			"initiatedBy": map[string]any{"automated": true},
			"retry":       map[string]any{"limit": 3, "backoff": map[string]any{"duration": "10s", "factor": 2, "maxDuration": "3m"}},
		},
		"phase": phase, "message": message, "startedAt": stamp(3 * time.Second),
		"syncResult": map[string]any{"revision": "HEAD", "source": a.source(version), "resources": []any{res}},
	}
	if phase != "Running" || retries > 0 {
		op["finishedAt"] = stamp(time.Second)
	}
	if retries > 0 {
		op["retryCount"] = retries
	}
	return op
}

// JSON is the Application as the API answers it.
func (a modelApp) JSON() map[string]any {
	const failure = `one or more objects failed to apply, reason: admission webhook "quota.policy.example.com" denied the request: requests.cpu exceeds the team budget`
	sync, health, healthMsg := "Synced", "Healthy", ""
	op := a.operation("Succeeded", "successfully synced (all tasks run)", a.served, 0, false)
	switch a.state {
	case argoOutOfSync:
		sync = "OutOfSync"
	case argoProgressing:
		sync, health = "OutOfSync", "Progressing"
		op = a.operation("Running", "waiting for healthy state of /Namespace/own-"+a.cluster, a.served, 0, false)
	case argoRetrying:
		sync = "OutOfSync"
		op = a.operation("Running", failure+". Retrying attempt #2 at "+a.now.Add(20*time.Second).Format(time.Kitchen)+".", a.served, 2, true)
	case argoFailed:
		sync = "OutOfSync"
		op = a.operation("Failed", failure+" (retried 3 times).", a.served, 3, true)
	case argoDegraded:
		health, healthMsg = "Degraded", "Deployment quota-guard exceeded its progress deadline"
	case argoOldFailure:
		if a.previous != "" {
			op = a.operation("Failed", failure+" (retried 3 times).", a.previous, 3, true)
		}
	}
	src := a.source(a.served)
	return map[string]any{
		"metadata": map[string]any{"name": a.cluster + "-bootstrap", "namespace": "argocd"},
		"spec": map[string]any{
			"project": "platform", "source": src, "destination": map[string]any{"name": a.cluster, "namespace": "default"},
			"syncPolicy": map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}, "retry": map[string]any{"limit": 3}},
		},
		"status": map[string]any{
			"sync":           map[string]any{"status": sync, "revision": "HEAD", "comparedTo": map[string]any{"source": src, "destination": map[string]any{"name": a.cluster, "namespace": "default"}}},
			"health":         map[string]any{"status": health, "message": healthMsg},
			"operationState": op,
		},
	}
}

// Application decodes the JSON as the service's Argo CD client reads it.
func (a modelApp) Application() (argocd.Application, error) {
	data, err := json.Marshal(a.JSON())
	if err != nil {
		return argocd.Application{}, err
	}
	var app argocd.Application
	if err := json.Unmarshal(data, &app); err != nil {
		return argocd.Application{}, fmt.Errorf("decode the Application of %s: %w", a.cluster, err)
	}
	return app, nil
}

// modelFleet is the Argo CD API of the model: the Applications set before each tick.
type modelFleet struct {
	mu   sync.Mutex
	apps []argocd.Application
	// A tick of several replicas at once holds each one's ListApplications (which a driver
	// calls right after reading the registry) until all have called it: they all decide on
	// the same reading, and race only to write their step — the race the conditional writes
	// must settle, and one whose outcome does not depend on the scheduler.
	waiting int
	arrived chan struct{}
}

// set sets the Applications of the next tick, by replicas drivers at once.
func (f *modelFleet) set(apps []argocd.Application, replicas int) {
	f.mu.Lock()
	f.apps, f.waiting, f.arrived = apps, replicas, make(chan struct{})
	f.mu.Unlock()
}

// TerminateOperation is how serve ends Argo CD's retries of a version no longer served. The
// model draws every cluster's Argo CD state afresh at each tick, so an ended operation is
// simply whatever the next tick draws.
func (f *modelFleet) TerminateOperation(ctx context.Context, app *argocd.Application) error {
	return nil
}

func (f *modelFleet) ListApplications(ctx context.Context) ([]argocd.Application, error) {
	f.mu.Lock()
	apps, arrived := slices.Clone(f.apps), f.arrived
	if f.waiting--; f.waiting <= 0 && arrived != nil {
		close(arrived)
		f.arrived = nil
	}
	f.mu.Unlock()
	if arrived != nil {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second): // a replica that failed to read the registry
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return apps, nil
}

// modelClock is the time of the drivers (and of the rollouts the model's publishes start).
type modelClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *modelClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *modelClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// eventLog collects the events of both drivers, in the order they were emitted.
type eventLog struct {
	mu   sync.Mutex
	list []event.Event
}

func (e *eventLog) add(ev event.Event) { e.mu.Lock(); e.list = append(e.list, ev); e.mu.Unlock() }

func (e *eventLog) all() []event.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}
