package notify

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the notifiers' metrics.
type Metrics struct {
	Annotations  *prometheus.CounterVec
	Refreshes    *prometheus.CounterVec
	Syncs        *prometheus.CounterVec
	Webhook      *prometheus.CounterVec
	WebhookQueue prometheus.Gauge
}

// NewMetrics returns the notifiers' metrics, registered in reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	m := &Metrics{
		Annotations:  counter("applicationset_annotations_total", "ApplicationSet refresh annotations, by outcome (ok, error).", "outcome"),
		Refreshes:    counter("application_refreshes_total", "Hard refreshes of Applications through the Argo CD API, by outcome (ok, error).", "outcome"),
		Syncs:        counter("application_syncs_total", "Sync requests after a hard refresh of Applications with an automated sync policy, by outcome (ok, busy: a sync kept running, error).", "outcome"),
		Webhook:      counter("webhook_deliveries_total", "Webhook events by outcome: delivered, retried (a delivery round failed, the event stays queued), rejected (4xx, dropped), expired (older than the max age, dropped), dropped (queue full).", "outcome"),
		WebhookQueue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "webhook_queue_length", Help: "Webhook events waiting for delivery."}),
	}
	reg.MustRegister(m.WebhookQueue)
	return m
}
