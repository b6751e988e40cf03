package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// Defaults of the webhook options.
const (
	DefaultWebhookQueue  = 1000
	DefaultWebhookMaxAge = time.Hour
)

// WebhookOptions configure the status webhook (the Portal).
type WebhookOptions struct {
	// URL receives the events: https, or http only with AllowInsecureHTTP.
	URL string
	// AllowInsecureHTTP accepts an http:// URL (a receiver inside the cluster, a test).
	AllowInsecureHTTP bool
	// CAFile, when set, holds the only CAs that verify the receiver's certificate (a private
	// CA); the system roots otherwise.
	CAFile string
	// Token, when set, is sent as a bearer token.
	Token secret.Secret
	// SigningSecret, when set, signs every event (Sign): the receiver can tell the events
	// from forged ones. PreviousSigningSecret, during a rotation, signs them as well, so a
	// receiver still holding the old secret keeps verifying them; a secret whose value is
	// empty (an optional file removed) signs nothing.
	SigningSecret, PreviousSigningSecret secret.Secret
	// QueueSize bounds the events waiting for delivery; the oldest are dropped beyond it.
	QueueSize int
	// MaxAge is how long an event is retried before it is dropped.
	MaxAge time.Duration
	HTTP   outbound.HTTPOptions
}

// Webhook delivers events in order, from a bounded in-memory queue: an event is retried
// (go-retryablehttp's bounded retries, then again after a pause) until delivered, rejected
// (4xx other than 408 and 429) or older than MaxAge. When the queue is full the oldest event
// waiting is dropped. Enqueueing never blocks.
type Webhook struct {
	opts   WebhookOptions
	client *retryablehttp.Client
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time

	// q holds the events waiting, by sequence number (so in order, and never merged).
	q *queue[uint64, queued]
	// mu orders enqueueing (sequence numbers, the size bound).
	mu  sync.Mutex
	seq uint64
	// sending is 1 while an event taken from q is being delivered (it counts towards the
	// queue size).
	sending atomic.Int32
}

type queued struct {
	ev       event.Event
	body     []byte
	enqueued time.Time
}

// NewWebhook returns the webhook of o; Run delivers its events.
func NewWebhook(o WebhookOptions, m *Metrics, om *outbound.Metrics, log *slog.Logger, now func() time.Time) (*Webhook, error) {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultWebhookQueue
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultWebhookMaxAge
	}
	if err := outbound.CheckURL(o.URL, o.AllowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("webhook URL: %w", err)
	}
	tc, err := outbound.TLSConfig(o.CAFile, false)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &Webhook{opts: o, client: outbound.NewClient(outbound.TargetWebhook, o.HTTP.WithDefaults(), tc, om, log), log: log, m: m, now: now,
		q: newQueue[uint64, queued](nil)}, nil
}

// Enqueue adds an event to the queue.
func (w *Webhook) Enqueue(ev event.Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		w.log.Error("webhook: cannot encode event", "type", ev.Type, "error", err)
		return
	}
	w.mu.Lock()
	if w.q.len()+int(w.sending.Load()) >= w.opts.QueueSize {
		// The oldest event waiting goes; not the one being delivered.
		if dropped, ok := w.q.removeFirst(); ok {
			w.m.Webhook.WithLabelValues("dropped").Inc()
			w.log.Warn("webhook: queue full, oldest waiting event dropped", "type", dropped.Val.ev.Type, "id", dropped.Val.ev.ID, "queueSize", w.opts.QueueSize)
		}
	}
	w.seq++
	w.q.put(w.seq, queued{ev: ev, body: body, enqueued: w.now()}, time.Time{})
	w.m.WebhookQueue.Set(float64(w.Len()))
	w.mu.Unlock()
}

// ChangeEvents reports every head move the registry shows to Webhook as an event of Replica
// (a publish or a rollback, listing the clusters it reaches); rollout steps are reported by
// the rollout driver.
type ChangeEvents struct {
	Webhook *Webhook
	Replica string
}

var _ registry.Subscriber = ChangeEvents{}

// Loaded does nothing: what changed while no replica ran was reported, or is lost.
func (ChangeEvents) Loaded(*registry.Snapshot) {}

// Changed enqueues the event of each head move of changes.
func (c ChangeEvents) Changed(_ *registry.Snapshot, changes []registry.Change) {
	for _, ch := range changes {
		if !ch.Step {
			c.Webhook.Enqueue(event.FromChange(ch, c.Replica))
		}
	}
}

// Len is the number of events waiting (the one being delivered included).
func (w *Webhook) Len() int { return w.q.len() + int(w.sending.Load()) }

// Run delivers events until ctx is done.
func (w *Webhook) Run(ctx context.Context) {
	b := backoff{min: time.Second, max: 30 * time.Second}
	for {
		w.mu.Lock()
		items, _ := w.q.take(w.now(), 1)
		w.sending.Store(int32(len(items)))
		w.mu.Unlock()
		if len(items) == 0 {
			if !w.q.wait(ctx, time.Time{}, w.now) {
				return
			}
			continue
		}
		seq, item := items[0].Key, items[0].Val
		if w.now().Sub(item.enqueued) > w.opts.MaxAge {
			w.done()
			w.m.Webhook.WithLabelValues("expired").Inc()
			w.log.Error("webhook: event dropped after retrying for the max age", "type", item.ev.Type, "id", item.ev.ID, "maxAge", w.opts.MaxAge.String())
			continue
		}
		err := w.deliver(ctx, item)
		var se *outbound.StatusError
		switch {
		case err == nil:
			w.done()
			b.reset()
			w.m.Webhook.WithLabelValues("delivered").Inc()
			w.log.Debug("webhook: event delivered", "type", item.ev.Type, "id", item.ev.ID)
		case ctx.Err() != nil:
			w.keep(seq, item)
			return
		case errors.As(err, &se) && se.Code >= 300 && se.Code < 500 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests:
			// A refusal, or a redirect (never followed: it would carry the token and the
			// event elsewhere); retrying would hold every later event behind it.
			w.done()
			w.m.Webhook.WithLabelValues("rejected").Inc()
			w.log.Error("webhook: event rejected, dropped", "type", item.ev.Type, "id", item.ev.ID, "error", err)
		default:
			// The event stays at the head of the queue: nothing newer goes before it.
			w.keep(seq, item)
			pause := b.next()
			w.m.Webhook.WithLabelValues("retried").Inc()
			w.log.Warn("webhook: delivery failed, event kept", "type", item.ev.Type, "id", item.ev.ID, "retryIn", pause.String(), "queued", w.Len(), "error", err)
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// done ends the delivery of the event taken.
func (w *Webhook) done() {
	w.sending.Store(0)
	w.m.WebhookQueue.Set(float64(w.Len()))
}

// keep puts the event taken back at the head of the queue.
func (w *Webhook) keep(seq uint64, item queued) {
	w.mu.Lock()
	w.q.put(seq, item, time.Time{})
	w.sending.Store(0)
	w.mu.Unlock()
}

func (w *Webhook) deliver(ctx context.Context, item queued) error {
	c := outbound.Call{Target: outbound.TargetWebhook, Method: http.MethodPost, URL: w.opts.URL, Path: "(webhook)", Token: w.opts.Token, Body: item.body,
		Headers: map[string]string{"X-Dynamo-Cmp-Event": item.ev.Type, "X-Dynamo-Cmp-Event-Id": item.ev.ID, "Idempotency-Key": item.ev.ID}}
	if err := w.sign(c.Headers, item.body); err != nil {
		return fmt.Errorf("deliver %s event %s: %w", item.ev.Type, item.ev.ID, err)
	}
	if err := c.Do(ctx, w.client, nil); err != nil {
		return fmt.Errorf("deliver %s event %s: %w", item.ev.Type, item.ev.ID, err)
	}
	return nil
}

// sign adds the timestamp and signature headers of one delivery attempt, when a signing
// secret is set. The secrets are read at each attempt, so a rotated file is picked up.
func (w *Webhook) sign(headers map[string]string, body []byte) error {
	var secrets []string
	for i, s := range []secret.Secret{w.opts.SigningSecret, w.opts.PreviousSigningSecret} {
		if s == nil {
			continue
		}
		v, err := s.Value()
		if err != nil {
			if i == 1 {
				continue // the previous secret is optional: its rotation window ended
			}
			return fmt.Errorf("webhook signing secret: %w", err)
		}
		if v != "" {
			secrets = append(secrets, v)
		}
	}
	if len(secrets) == 0 {
		return nil
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	headers[TimestampHeader] = ts
	headers[SignatureHeader] = Sign(ts, body, secrets...)
	return nil
}

// Drain delivers what is queued until the queue is empty or ctx ends (shutdown).
func (w *Webhook) Drain(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for w.Len() > 0 {
		select {
		case <-ctx.Done():
			if n := w.Len(); n > 0 {
				w.log.Warn("webhook: shutting down with undelivered events", "queued", n)
			}
			return
		case <-t.C:
		}
	}
}
