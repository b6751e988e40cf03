package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Event types.
const (
	// EventPublish and EventRollback: a layer's head moved (one event per layer, listing the
	// clusters it affects).
	EventPublish  = "publish"
	EventRollback = "rollback"
	// EventSynced: every Application of a cluster is Synced and Healthy on the new version
	// (recorded as the cluster's last known good).
	EventSynced = "synced"
	// EventDegraded and EventSyncFailed: an Application of a cluster went Degraded, or its
	// sync (or rendering) failed, on the new version.
	EventDegraded   = "degraded"
	EventSyncFailed = "sync-failed"
	// EventRolloutTimeout: the Applications did not settle within the rollout timeout.
	EventRolloutTimeout = "rollout-timeout"
	// EventAutoRollback: the service rolled a layer back; EventAutoRollbackSkipped: it would
	// have but could not (no last known good, outside the window ...);
	// EventAutoRollbackFailed: the rollback was refused or failed.
	EventAutoRollback        = "auto-rollback"
	EventAutoRollbackSkipped = "auto-rollback-skipped"
	EventAutoRollbackFailed  = "auto-rollback-failed"
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
	// Layer, Action, Version and PreviousVersion describe the head move the event is about
	// (for cluster events: the latest one that reached the cluster).
	Layer           string `json:"layer,omitempty"`
	Action          string `json:"action,omitempty"`
	Version         int    `json:"version,omitempty"`
	PreviousVersion int    `json:"previousVersion,omitempty"`
	// ConfigVersion is the cluster's resolved version the event is about.
	ConfigVersion string `json:"configVersion,omitempty"`
	// LastKnownGood is the cluster's last known good configVersion, when relevant.
	LastKnownGood string `json:"lastKnownGood,omitempty"`
	// Clusters are the clusters a publish or rollback affects, with their new configVersion.
	Clusters []EventCluster `json:"clusters,omitempty"`
	Actor    string         `json:"actor,omitempty"`
	Message  string         `json:"message,omitempty"`
	// TraceID is the trace id of the head move (the head's TraceID).
	TraceID string `json:"traceId,omitempty"`
	// Reason explains failures and skipped rollbacks.
	Reason string `json:"reason,omitempty"`
	// ArgoCD is the state of the cluster's Applications, read from the Argo CD API.
	ArgoCD *ArgoCDStatus `json:"argocd,omitempty"`
	// Replica is the service replica that reported the event.
	Replica string `json:"replica,omitempty"`
}

// EventCluster is a cluster a head move affects.
type EventCluster struct {
	Cluster       string `json:"cluster"`
	Environment   string `json:"environment"`
	ConfigVersion string `json:"configVersion"`
}

// ArgoCDStatus is the Applications of a cluster as Argo CD reports them.
type ArgoCDStatus struct {
	Applications []AppStatus `json:"applications"`
}

// eventID derives an event's id from the facts that identify it.
func eventID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:12])
}

// changeEvent is the event of a head move.
func (s *Server) changeEvent(ch Change) Event {
	ev := Event{
		ID:   eventID(ch.Head.Action, ch.Ref.String(), strconv.Itoa(ch.Head.Version), strconv.FormatInt(ch.Head.At.UnixNano(), 10)),
		Type: ch.Head.Action, Time: ch.DetectedAt.UTC(), Layer: ch.Ref.String(), Action: ch.Head.Action,
		Version: ch.Head.Version, PreviousVersion: ch.Head.Previous,
		Actor: ch.Head.Actor, Message: ch.Head.Message, TraceID: ch.Head.TraceID, Replica: s.opts.Replica,
		Clusters: []EventCluster{},
	}
	for _, c := range ch.Clusters {
		ev.Clusters = append(ev.Clusters, EventCluster{Cluster: c.Name, Environment: c.Record.Environment, ConfigVersion: c.Version.String()})
	}
	if len(ch.Clusters) == 1 {
		ev.Cluster, ev.ConfigVersion = ch.Clusters[0].Name, ch.Clusters[0].Version.String()
	}
	return ev
}

// webhookQueue delivers events in order, from a bounded in-memory queue: an event is retried
// (go-retryablehttp's bounded retries, then again after a pause) until delivered, rejected
// (4xx other than 408 and 429) or older than MaxAge. When the queue is full the oldest event
// waiting is dropped. Enqueueing never blocks.
type webhookQueue struct {
	opts   *WebhookOptions
	client *retryablehttp.Client
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time

	mu    sync.Mutex
	queue []queued
	seq   uint64
	// sending is the seq of the event being delivered (0: none).
	sending uint64
	wake    chan struct{}
}

type queued struct {
	seq      uint64
	ev       Event
	body     []byte
	enqueued time.Time
}

func newWebhookQueue(o *WebhookOptions, m *Metrics, log *slog.Logger, now func() time.Time) (*webhookQueue, error) {
	tc, err := tlsConfig("", false)
	if err != nil {
		return nil, err
	}
	return &webhookQueue{opts: o, client: newClient(targetWebhook, o.HTTP, tc, m, log), log: log, m: m, now: now, wake: make(chan struct{}, 1)}, nil
}

// enqueue adds an event to the queue.
func (q *webhookQueue) enqueue(ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		q.log.Error("webhook: cannot encode event", "type", ev.Type, "error", err)
		return
	}
	q.mu.Lock()
	if len(q.queue) >= q.opts.QueueSize {
		// The oldest event waiting goes; not the one being delivered.
		i := 0
		if q.queue[0].seq == q.sending && len(q.queue) > 1 {
			i = 1
		}
		dropped := q.queue[i]
		q.queue = append(q.queue[:i], q.queue[i+1:]...)
		q.m.webhook.WithLabelValues("dropped").Inc()
		q.log.Warn("webhook: queue full, oldest waiting event dropped", "type", dropped.ev.Type, "id", dropped.ev.ID, "queueSize", q.opts.QueueSize)
	}
	q.seq++
	q.queue = append(q.queue, queued{seq: q.seq, ev: ev, body: body, enqueued: q.now()})
	q.m.webhookQueue.Set(float64(len(q.queue)))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// peek returns the oldest event and marks it as being delivered.
func (q *webhookQueue) peek() (queued, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		q.sending = 0
		return queued{}, false
	}
	q.sending = q.queue[0].seq
	return q.queue[0], true
}

// pop removes item, the head.
func (q *webhookQueue) pop(item queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) > 0 && q.queue[0].seq == item.seq {
		q.queue = q.queue[1:]
	}
	q.sending = 0
	q.m.webhookQueue.Set(float64(len(q.queue)))
}

// length is the number of events waiting.
func (q *webhookQueue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// run delivers events until ctx is done.
func (q *webhookQueue) run(ctx context.Context) {
	pause := time.Second
	for {
		item, ok := q.peek()
		if !ok {
			if !waitFor(ctx, q.wake, time.Time{}, q.now) {
				return
			}
			continue
		}
		if q.now().Sub(item.enqueued) > q.opts.MaxAge {
			q.pop(item)
			q.m.webhook.WithLabelValues("expired").Inc()
			q.log.Error("webhook: event dropped after retrying for the max age", "type", item.ev.Type, "id", item.ev.ID, "maxAge", q.opts.MaxAge.String())
			continue
		}
		err := q.deliver(ctx, item)
		var se *StatusError
		switch {
		case err == nil:
			q.pop(item)
			pause = time.Second
			q.m.webhook.WithLabelValues("delivered").Inc()
			q.log.Debug("webhook: event delivered", "type", item.ev.Type, "id", item.ev.ID)
		case ctx.Err() != nil:
			return
		case errors.As(err, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests:
			q.pop(item)
			q.m.webhook.WithLabelValues("rejected").Inc()
			q.log.Error("webhook: event rejected, dropped", "type", item.ev.Type, "id", item.ev.ID, "error", err)
		default:
			q.m.webhook.WithLabelValues("retried").Inc()
			q.log.Warn("webhook: delivery failed, event kept", "type", item.ev.Type, "id", item.ev.ID, "retryIn", pause.String(), "queued", q.length(), "error", err)
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(pause*2, 30*time.Second)
		}
	}
}

func (q *webhookQueue) deliver(ctx context.Context, item queued) error {
	c := call{target: targetWebhook, method: http.MethodPost, url: q.opts.URL, path: "(webhook)", token: q.opts.Token, body: item.body,
		headers: map[string]string{"X-Dynamo-Cmp-Event": item.ev.Type, "X-Dynamo-Cmp-Event-Id": item.ev.ID, "Idempotency-Key": item.ev.ID}}
	if err := c.do(ctx, q.client, nil); err != nil {
		return fmt.Errorf("deliver %s event %s: %w", item.ev.Type, item.ev.ID, err)
	}
	return nil
}

// drain delivers what is queued until the queue is empty or ctx ends (shutdown).
func (q *webhookQueue) drain(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for q.length() > 0 {
		select {
		case <-ctx.Done():
			if n := q.length(); n > 0 {
				q.log.Warn("webhook: shutting down with undelivered events", "queued", n)
			}
			return
		case <-t.C:
		}
	}
}
