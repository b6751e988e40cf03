package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/event"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a webhook receiver on loopback that records every request and answers code.
type receiver struct {
	srv  *httptest.Server
	code int
	mu   sync.Mutex
	got  []delivery
}

func newReceiver(t *testing.T, code int) *receiver {
	r := &receiver{code: code}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(r.code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// runWebhook delivers events to o.URL until the test ends.
func runWebhook(t *testing.T, o notify.WebhookOptions) (*notify.Webhook, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.HTTP = outbound.HTTPOptions{Timeout: 2 * time.Second, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond}
	w, err := notify.NewWebhook(o, notify.NewMetrics(reg, "test"), outbound.NewMetrics(reg, "test"), slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, reg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hmacHex is the documented signature, computed as a receiver would (docs/serve.md).
func hmacHex(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "." + string(body)))
	return hex.EncodeToString(mac.Sum(nil))
}

// TestWebhookEventsAreSigned (issue 20, item 6): every event carries a timestamp and an
// HMAC-SHA256 of the timestamp and the body per signing secret; during a rotation both the
// current and the previous secret sign it, and once the previous secret's file is removed
// only the current one does.
func TestWebhookEventsAreSigned(t *testing.T) {
	const current, previous = "current-signing-secret-0123456789abcdef", "previous-signing-secret-0123456789abcdef"
	dir := t.TempDir()
	prevFile := filepath.Join(dir, "previous")
	if err := os.WriteFile(prevFile, []byte(previous+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, http.StatusNoContent)
	w, _ := runWebhook(t, notify.WebhookOptions{URL: rcv.srv.URL, AllowInsecureHTTP: true,
		SigningSecret: secret.Static(current), PreviousSigningSecret: secret.NewOptionalFile(prevFile)})
	w.Enqueue(event.Event{ID: "ev-1", Type: event.Publish, Layer: "global", Version: 2})
	waitFor(t, "the event delivered", func() bool { return len(rcv.deliveries()) == 1 })

	d := rcv.deliveries()[0]
	ts := d.header.Get("X-Dynamo-Cmp-Timestamp")
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Fatalf("timestamp header %q is not the time of the delivery in Unix seconds", ts)
	}
	sig := d.header.Get("X-Dynamo-Cmp-Signature")
	want := "v1=" + hmacHex(current, ts, d.body) + ",v1=" + hmacHex(previous, ts, d.body)
	if sig != want {
		t.Errorf("signature header %q, want %q", sig, want)
	}
	for _, s := range []string{current, previous} {
		if !notify.Verify(sig, ts, d.body, s) {
			t.Errorf("a receiver holding %q cannot verify the event", s)
		}
	}
	if notify.Verify(sig, ts, append(d.body, ' '), current) || notify.Verify(sig, ts+"0", d.body, current) || notify.Verify(sig, ts, d.body, "another-secret") {
		t.Error("a changed body, timestamp or secret verifies")
	}
	if strings.Contains(d.header.Get("Authorization"), current) {
		t.Error("the signing secret was sent")
	}

	// The rotation ends: the previous secret's file is removed.
	if err := os.Remove(prevFile); err != nil {
		t.Fatal(err)
	}
	only := notify.WebhookOptions{URL: rcv.srv.URL, AllowInsecureHTTP: true, SigningSecret: secret.Static(current), PreviousSigningSecret: secret.NewOptionalFile(prevFile)}
	w2, _ := runWebhook(t, only)
	w2.Enqueue(event.Event{ID: "ev-2", Type: event.Publish, Layer: "global", Version: 3})
	waitFor(t, "the second event delivered", func() bool { return len(rcv.deliveries()) == 2 })
	d = rcv.deliveries()[1]
	ts = d.header.Get("X-Dynamo-Cmp-Timestamp")
	if got, want := d.header.Get("X-Dynamo-Cmp-Signature"), "v1="+hmacHex(current, ts, d.body); got != want {
		t.Errorf("after the rotation: signature header %q, want %q", got, want)
	}
}

// TestWebhookRefusesPlainHTTPAndRedirects: an http:// URL is refused unless allowed, and a
// receiver answering with a redirect gets neither the event nor the token sent on.
func TestWebhookRefusesPlainHTTPAndRedirects(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := notify.NewWebhook(notify.WebhookOptions{URL: "http://portal.example.com/hook"}, notify.NewMetrics(reg, "test"), outbound.NewMetrics(reg, "test"), slog.New(slog.DiscardHandler), time.Now)
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("an http:// webhook URL: %v, want a refusal", err)
	}

	elsewhere := newReceiver(t, http.StatusNoContent)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	w, reg := runWebhook(t, notify.WebhookOptions{URL: redirecting.URL, AllowInsecureHTTP: true, Token: secret.Static("webhook-bearer-token")})
	w.Enqueue(event.Event{ID: "ev-1", Type: event.Publish, Layer: "global", Version: 2})
	waitFor(t, "the event dropped", func() bool { return w.Len() == 0 })
	if got := elsewhere.deliveries(); len(got) != 0 {
		t.Errorf("the redirect was followed: %d requests reached its target", len(got))
	}
	families, _ := reg.Gather()
	rejected := 0.0
	for _, f := range families {
		if f.GetName() == "test_webhook_deliveries_total" {
			for _, m := range f.GetMetric() {
				if m.GetLabel()[0].GetValue() == "rejected" {
					rejected = m.GetCounter().GetValue()
				}
			}
		}
	}
	if rejected != 1 {
		t.Errorf("webhook_deliveries_total{outcome=\"rejected\"} = %v, want 1", rejected)
	}
}

// TestSignatureTestVector: the example of docs/serve.md#signatures, which receivers use to
// check their own code, is what serve sends.
func TestSignatureTestVector(t *testing.T) {
	got := notify.Sign("1795860271", []byte(`{"id":"ev-1","type":"publish"}`), "current-signing-secret-0123456789abcdef")
	if want := "v1=07b7c01bb0126273982961424c6d6e5f589e75c3aa1722aecaa0fae2c03766ea"; got != want {
		t.Errorf("signature %s, want the documented %s", got, want)
	}
	if got != "v1="+hmacHex("current-signing-secret-0123456789abcdef", "1795860271", []byte(`{"id":"ev-1","type":"publish"}`)) {
		t.Error("Sign differs from the documented algorithm")
	}
}
