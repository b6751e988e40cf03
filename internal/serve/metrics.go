package serve

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/notify"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/progress"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// Metrics are the service's Prometheus metrics, on a registry of their own: the HTTP
// server's, the DynamoDB calls' and the registry's here, and those of each part, registered
// here too. Metrics is also the store.Observer of the service's store (DynamoDB calls by
// operation and outcome).
type Metrics struct {
	reg *prometheus.Registry

	Generator *generator.Metrics
	Notify    *notify.Metrics
	Rollout   *progress.Metrics
	Driver    *progress.DriverMetrics
	Outbound  *outbound.Metrics
	Reader    *argocd.ReaderMetrics

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	dynamoCalls   *prometheus.CounterVec
	dynamoLatency *prometheus.HistogramVec
	dynamoUnits   *prometheus.CounterVec
	changes       *prometheus.CounterVec
	changeSeq     prometheus.Gauge
	clusters      prometheus.Gauge
}

var _ store.Observer = (*Metrics)(nil)

// NewMetrics returns the service's metrics, with the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	const ns = "dynamo_cmp_serve"
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	m.requests = counter("http_requests_total", "HTTP requests served, by path and status code.", "path", "code")
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
		Help: "Latency of the HTTP requests served, by path.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"path"})
	m.reg.MustRegister(m.latency)
	m.dynamoCalls = counter("dynamodb_calls_total", "DynamoDB API calls, by operation and outcome (ok, throttled, unavailable, error).", "op", "outcome")
	m.dynamoLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "dynamodb_call_duration_seconds",
		Help: "Latency of DynamoDB API calls (retries included), by operation.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"op"})
	m.reg.MustRegister(m.dynamoLatency)
	m.dynamoUnits = counter("dynamodb_consumed_capacity_units_total", "DynamoDB capacity units consumed, by kind (read, write).", "kind")
	m.changes = counter("changes_total", "Head moves detected, by action (publish, rollback).", "action")
	m.changeSeq = gauge("registry_change_seq", "The registry's change counter as last read.")
	m.clusters = gauge("registered_clusters", "Clusters in the registry snapshot served.")
	m.Generator = generator.NewMetrics(m.reg, ns)
	m.Notify = notify.NewMetrics(m.reg, ns)
	m.Rollout = progress.NewMetrics(m.reg, ns)
	m.Driver = progress.NewDriverMetrics(m.reg, ns)
	m.Outbound = outbound.NewMetrics(m.reg, ns)
	m.Reader = argocd.NewReaderMetrics(m.reg, ns)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveCall implements store.Observer.
func (m *Metrics) ObserveCall(op string, d time.Duration, readUnits, writeUnits float64, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, store.ErrThrottled):
		outcome = "throttled"
	case errors.Is(err, store.ErrUnavailable):
		outcome = "unavailable"
	default:
		outcome = "error"
	}
	m.dynamoCalls.WithLabelValues(op, outcome).Inc()
	m.dynamoLatency.WithLabelValues(op).Observe(d.Seconds())
	if readUnits > 0 {
		m.dynamoUnits.WithLabelValues("read").Add(readUnits)
	}
	if writeUnits > 0 {
		m.dynamoUnits.WithLabelValues("write").Add(writeUnits)
	}
}

// observeRequest counts one served request.
func (m *Metrics) observeRequest(path string, code int, d time.Duration) {
	m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(path).Observe(d.Seconds())
}
