package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// quick bounds each attempt to 1 s (a margin over a busy machine's slow answer, which the
// sender would retry: a duplicate) and retries 3 times with short backoff.
var quick = outbound.HTTPOptions{Timeout: time.Second, RetryMax: 3, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond}

func startQueue(t *testing.T, hook *fakeHook, size int, maxAge time.Duration) (*notify.Webhook, *Metrics) {
	t.Helper()
	m := NewMetrics()
	q, err := notify.NewWebhook(notify.WebhookOptions{URL: hook.srv.URL, AllowInsecureHTTP: true, QueueSize: size, MaxAge: maxAge, HTTP: quick}, m.Notify, m.Outbound, testLogger(t), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return q, m
}

func testEvents(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{ID: fmt.Sprintf("ev-%02d", i), Type: event.Publish, Layer: "global", Version: i + 1}
	}
	return out
}

// ackedIDs returns the ids of the acknowledged events in order, and the distinct ones.
func ackedIDs(evs []event.Event) (all, distinct []string) {
	seen := map[string]bool{}
	for _, e := range evs {
		all = append(all, e.ID)
		if !seen[e.ID] {
			seen[e.ID] = true
			distinct = append(distinct, e.ID)
		}
	}
	return all, distinct
}

func TestWebhookDeliveryRetriesWithoutLosingEvents(t *testing.T) {
	t.Parallel()
	hook := newFakeHook(t)
	hook.push(
		// First round: a 500, a 429, a timeout, then delivered (retries within one call).
		fault{code: http.StatusInternalServerError}, fault{code: http.StatusTooManyRequests}, fault{delay: 5 * time.Second}, fault{},
		// Then an outage longer than one call's retries: the event stays queued.
		fault{code: 503}, fault{code: 502}, fault{code: 504}, fault{delay: 5 * time.Second},
		fault{code: 503}, fault{code: 503}, fault{code: 503}, fault{code: 503},
	)
	hook.lostAnswers = 0
	q, m := startQueue(t, hook, 100, time.Hour)
	want := testEvents(5)
	for _, ev := range want {
		q.Enqueue(ev)
	}
	eventually(t, "every event delivered", func() bool { _, d := ackedIDs(hook.events()); return len(d) == len(want) })
	all, distinct := ackedIDs(hook.events())
	var wantIDs []string
	for _, ev := range want {
		wantIDs = append(wantIDs, ev.ID)
	}
	if !reflect.DeepEqual(distinct, wantIDs) || !reflect.DeepEqual(all, wantIDs) {
		t.Errorf("delivered %v, want each of %v once, in order", all, wantIDs)
	}
	if r := value(m.Outbound.Retries.WithLabelValues(outbound.TargetWebhook)); r < 9 {
		t.Errorf("%v retries counted, want at least 9", r)
	}
	if n := value(m.Notify.Webhook.WithLabelValues("retried")); n < 2 {
		t.Errorf("%v delivery rounds failed, want at least 2 (the outage outlasted one call's retries)", n)
	}
	if n := value(m.Notify.Webhook.WithLabelValues("delivered")); n != 5 {
		t.Errorf("%v delivered, want 5", n)
	}
}

func TestWebhookDuplicatesCarryTheSameID(t *testing.T) {
	t.Parallel()
	hook := newFakeHook(t)
	hook.lostAnswers = 2 // the receiver records the event but its answer never arrives
	q, _ := startQueue(t, hook, 100, time.Hour)
	want := testEvents(3)
	for _, ev := range want {
		q.Enqueue(ev)
	}
	eventually(t, "every event delivered", func() bool { _, d := ackedIDs(hook.events()); return len(d) == 3 })
	// Nothing queued, nothing being sent, no request in the receiver: nothing more can arrive.
	eventually(t, "the queue to empty", func() bool { return q.Len() == 0 && hook.inflight.Load() == 0 })
	all, distinct := ackedIDs(hook.events())
	if !reflect.DeepEqual(distinct, []string{"ev-00", "ev-01", "ev-02"}) {
		t.Fatalf("delivered %v", all)
	}
	// At-least-once: the lost answers made ev-00 arrive three times, with the same id.
	if len(all) != 5 {
		t.Errorf("deliveries %v, want ev-00 three times then the others once", all)
	}
}

func TestWebhookQueueBounds(t *testing.T) {
	t.Parallel()
	t.Run("rejected events are dropped", func(t *testing.T) {
		hook := newFakeHook(t)
		hook.push(fault{code: http.StatusBadRequest})
		q, m := startQueue(t, hook, 10, time.Hour)
		for _, ev := range testEvents(2) {
			q.Enqueue(ev)
		}
		eventually(t, "the second event", func() bool { _, d := ackedIDs(hook.events()); return len(d) == 1 })
		if all, _ := ackedIDs(hook.events()); !reflect.DeepEqual(all, []string{"ev-01"}) {
			t.Errorf("delivered %v, want only ev-01 (ev-00 was refused with 400)", all)
		}
		if n := value(m.Notify.Webhook.WithLabelValues("rejected")); n != 1 {
			t.Errorf("rejected %v", n)
		}
	})
	t.Run("a full queue drops its oldest event", func(t *testing.T) {
		hook := newFakeHook(t)
		block := make(chan struct{})
		hook.block = block
		q, m := startQueue(t, hook, 2, time.Hour)
		evs := testEvents(4)
		q.Enqueue(evs[0])
		eventually(t, "the first delivery", func() bool { return hook.inflight.Load() == 1 })
		for _, ev := range evs[1:] { // ev-00 is being delivered: ev-01, then ev-02 make room
			q.Enqueue(ev)
		}
		close(block)
		eventually(t, "the queue drained", func() bool { return q.Len() == 0 && hook.inflight.Load() == 0 })
		_, d := ackedIDs(hook.events())
		if !reflect.DeepEqual(d, []string{"ev-00", "ev-03"}) {
			t.Errorf("delivered %v, want ev-00 (in flight) and ev-03 (the newest)", d)
		}
		if n := value(m.Notify.Webhook.WithLabelValues("dropped")); n != 2 {
			t.Errorf("dropped %v, want 2", n)
		}
	})
	t.Run("events older than the max age are dropped", func(t *testing.T) {
		hook := newFakeHook(t)
		for range 8 {
			hook.push(fault{code: 503})
		}
		q, m := startQueue(t, hook, 10, 100*time.Millisecond)
		q.Enqueue(testEvents(1)[0])
		eventually(t, "the event expiring", func() bool { return value(m.Notify.Webhook.WithLabelValues("expired")) == 1 })
		if q.Len() != 0 {
			t.Errorf("queue length %d", q.Len())
		}
	})
}

func TestArgoCDCallsRetryWithBounds(t *testing.T) {
	t.Parallel()
	argo := newFakeArgo(t, &argocdtest.App{Namespace: "argocd", Name: "a", Cluster: "dev-a", Sync: "Synced", Health: "Healthy"})
	m := NewMetrics()
	c, err := argocd.New(argocd.Options{URL: argo.srv.URL, AllowInsecureHTTP: true, Token: secret.Static(testArgoToken), HTTP: quick, RefreshTimeout: 300 * time.Millisecond}, m.Outbound, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	attempts := func() int { argo.mu.Lock(); defer argo.mu.Unlock(); n := argo.attempts; argo.attempts = 0; return n }

	argo.push(fault{code: http.StatusTooManyRequests}, fault{code: http.StatusServiceUnavailable}, fault{delay: 5 * time.Second})
	apps, err := c.ListApplications(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("list after 429, 503 and a timeout: %v, %v", apps, err)
	}
	if n := attempts(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}

	argo.push(fault{code: 500}, fault{delay: 5 * time.Second})
	if err := c.HardRefresh(ctx, &apps[0]); err != nil {
		t.Fatalf("hard refresh after a 500 and a timeout: %v", err)
	}
	if got := argo.refreshed(); !reflect.DeepEqual(got, []string{"argocd/a"}) {
		t.Errorf("refreshed %v", got)
	}
	attempts()

	for range 10 {
		argo.push(fault{code: 503})
	}
	if _, err := c.ListApplications(ctx); err == nil {
		t.Fatal("a lasting outage did not fail the call")
	}
	if n := attempts(); n != quick.RetryMax+1 {
		t.Errorf("%d attempts during an outage, want %d (bounded)", n, quick.RetryMax+1)
	}
	argo.mu.Lock()
	argo.seq = nil
	argo.mu.Unlock()

	bad, err := argocd.New(argocd.Options{URL: argo.srv.URL, AllowInsecureHTTP: true, Token: secret.Static("wrong"), HTTP: quick}, m.Outbound, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ListApplications(ctx)
	var se *outbound.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("wrong token: %v, want a 401 StatusError", err)
	}
	if n := attempts(); n != 1 {
		t.Errorf("a 401 was retried: %d attempts", n)
	}
}

func TestRolloutSurvivesArgoCDAndWebhookFailures(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t, func(o *Options) {
		o.ArgoCD.HTTP, o.Webhook.HTTP = quick, quick
	})
	f.argo.update("dev-a-rbac", func(a *argocdtest.App) { a.Pinned, a.Compared = "", "" }) // follows latest
	before := len(f.hook.events())
	// Argo CD answers 429, 5xx and times out for a while (longer than one call's retries);
	// the webhook fails too.
	for _, x := range []fault{{code: 429}, {code: 500}, {delay: 5 * time.Second}, {code: 502}, {code: 503}, {code: 503}, {code: 503}, {code: 503}} {
		f.argo.push(x)
	}
	f.hook.push(fault{code: 500}, fault{code: 429}, fault{delay: 5 * time.Second}, fault{code: 503}, fault{code: 503})

	head := publish(t, f.st, config.ClusterLayer("dev-a"), clusterEntry(t, fleet[0]), namespaceEntry(t, "apps"), namespaceEntry(t, "more"))
	eventually(t, "the latest Application hard-refreshed", func() bool { return len(f.argo.refreshed()) > 0 })
	f.argo.update("dev-a-namespaces", func(a *argocdtest.App) { a.Pinned, a.Compared = "g1.e1.c2", "g1.e1.c2" })
	ev := f.hook.wait(t, "the synced event", func(e event.Event) bool { return e.Type == event.Synced && e.ConfigVersion == "g1.e1.c2" })
	if ev.TraceID != head.TraceID {
		t.Errorf("synced event %+v", ev)
	}
	var types []string
	for _, e := range f.hook.events()[before:] {
		types = append(types, e.Type)
	}
	if !reflect.DeepEqual(types, []string{event.Publish, event.Synced}) {
		t.Errorf("events after the failures: %v, want the publish then the synced event, once each", types)
	}
	for _, want := range []string{"argocd/dev-a-rbac"} {
		found := false
		for _, r := range f.argo.refreshed() {
			found = found || r == want
		}
		if !found {
			t.Errorf("%s was not hard-refreshed: %v", want, f.argo.refreshed())
		}
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
