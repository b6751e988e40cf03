package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
)

// Event types.
const (
	// Publish and Rollback: a layer's head moved (one event per layer, listing the
	// clusters it affects).
	Publish  = "publish"
	Rollback = "rollback"
	// Synced: every Application of a cluster is Synced and Healthy on the new version
	// (recorded as the cluster's last known good).
	Synced = "synced"
	// Degraded and SyncFailed: an Application of a cluster went Degraded, or its
	// sync (an attempt of it, also while Argo CD retries it) or its rendering failed, on the
	// new version. For the clusters of a wave in progress they are sent once per wave, before
	// the rollout-halted they may cause.
	Degraded   = "degraded"
	SyncFailed = "sync-failed"
	// RolloutTimeout: the Applications did not reach Synced and Healthy within the
	// rollout timeout.
	RolloutTimeout = "rollout-timeout"
	// AutoRollback: the service rolled a layer back; AutoRollbackSkipped: it would
	// have but could not (no last known good, outside the window ...);
	// AutoRollbackFailed: the rollback was refused or failed.
	AutoRollback        = "auto-rollback"
	AutoRollbackSkipped = "auto-rollback-skipped"
	AutoRollbackFailed  = "auto-rollback-failed"
	// Rollouts in waves: the rollout of a layer version started, a wave started or
	// completed (Synced and Healthy for its bake time), the rollout halted on failures
	// (every cluster is served the stable version again) and its head was rolled back, or it
	// completed.
	RolloutStarted       = "rollout-started"
	RolloutWaveStarted   = "rollout-wave-started"
	RolloutWaveCompleted = "rollout-wave-completed"
	RolloutHalted        = "rollout-halted"
	RolloutRolledBack    = "rollout-rolled-back"
	RolloutCompleted     = "rollout-completed"
)

// Event is what the webhook receives (one JSON object per POST). ID is the same for the same
// fact whichever replica reports it, so a receiver can drop duplicates (delivery is
// at-least-once).
type Event struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Cluster is set on the events of one cluster.
	Cluster string `json:"cluster,omitempty"`
	// Layer, Action, Version and PreviousVersion describe the head move the event is about.
	// For cluster events they describe the latest change that reached the cluster, with
	// Version the layer's version in ConfigVersion: when a halted or aborted rollout serves the
	// cluster its stable version again, Action is "rollback", Version the stable version and
	// PreviousVersion the one the cluster was served before.
	Layer           string `json:"layer,omitempty"`
	Action          string `json:"action,omitempty"`
	Version         int    `json:"version,omitempty"`
	PreviousVersion int    `json:"previousVersion,omitempty"`
	// ConfigVersion is the cluster's resolved version the event is about.
	ConfigVersion string `json:"configVersion,omitempty"`
	// LastKnownGood is the cluster's last known good configVersion, when relevant.
	LastKnownGood string `json:"lastKnownGood,omitempty"`
	// Clusters are the clusters a publish or rollback affects, with their new configVersion.
	Clusters []Cluster `json:"clusters,omitempty"`
	Actor    string    `json:"actor,omitempty"`
	Message  string    `json:"message,omitempty"`
	// TraceID is the trace id of the head move (the head's TraceID).
	TraceID string `json:"traceId,omitempty"`
	// Reason explains failures and skipped rollbacks.
	Reason string `json:"reason,omitempty"`
	// ArgoCD is the state of the cluster's Applications, read from the Argo CD API.
	ArgoCD *ArgoCDStatus `json:"argocd,omitempty"`
	// Rollout describes the rollout in waves a rollout-* event is about.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// Replica is the service replica that reported the event.
	Replica string `json:"replica,omitempty"`
}

// RolloutStatus is where a rollout in waves is.
type RolloutStatus struct {
	Strategy string `json:"strategy"`
	State    string `json:"state"`
	// Stable is the version clusters not reached are served; the event's Version the target.
	Stable int `json:"stable"`
	// Wave is the wave's number (1-based) out of Waves.
	Wave     int      `json:"wave"`
	Waves    int      `json:"waves"`
	WaveName string   `json:"waveName"`
	Clusters []string `json:"clusters"`
}

// Cluster is a cluster a head move affects.
type Cluster struct {
	Cluster       string `json:"cluster"`
	Environment   string `json:"environment"`
	ConfigVersion string `json:"configVersion"`
}

// ArgoCDStatus is the Applications of a cluster as Argo CD reports them.
type ArgoCDStatus struct {
	Applications []AppStatus `json:"applications"`
}

// AppStatus is an Application's state as events report it.
type AppStatus struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// ConfigVersion is the version the Application pins ("latest" when none).
	ConfigVersion  string `json:"configVersion"`
	Sync           string `json:"sync"`
	Health         string `json:"health"`
	OperationPhase string `json:"operationPhase,omitempty"`
	// RetryCount is how many failed attempts of the running operation Argo CD is retrying.
	RetryCount int64 `json:"retryCount,omitempty"`
	// Message says why the Application failed or is not done yet.
	Message string `json:"message,omitempty"`
}

// ID derives an event's id from the facts that identify it, so every replica reporting
// the same fact gives it the same id.
func ID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}

// FromChange is the event of a head move, as replica reports it.
func FromChange(ch registry.Change, replica string) Event {
	ev := Event{
		ID:   ID(ch.Head.Action, ch.Ref.String(), strconv.Itoa(ch.Head.Version), strconv.FormatInt(ch.Head.At.UnixNano(), 10)),
		Type: ch.Head.Action, Time: ch.DetectedAt.UTC(), Layer: ch.Ref.String(), Action: ch.Head.Action,
		Version: ch.Head.Version, PreviousVersion: ch.Head.Previous,
		Actor: ch.Head.Actor, Message: ch.Head.Message, TraceID: ch.Head.TraceID, Replica: replica,
		Clusters: []Cluster{},
	}
	for _, c := range ch.Clusters {
		ev.Clusters = append(ev.Clusters, Cluster{Cluster: c.Name, Environment: c.Record.Environment, ConfigVersion: c.Served.String()})
	}
	if len(ch.Clusters) == 1 {
		ev.Cluster, ev.ConfigVersion = ch.Clusters[0].Name, ch.Clusters[0].Served.String()
	}
	return ev
}
