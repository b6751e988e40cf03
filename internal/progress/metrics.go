package progress

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the rollout tracker's metrics.
type Metrics struct {
	Rollouts  *prometheus.CounterVec
	LKGWrites *prometheus.CounterVec
	Rollbacks *prometheus.CounterVec
}

// NewMetrics returns the tracker's metrics, registered in reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	return &Metrics{
		Rollouts:  counter("rollouts_total", "Rollouts followed to an end, by result (synced, failed, timeout).", "result"),
		LKGWrites: counter("last_known_good_writes_total", "Last-known-good records, by outcome (written, superseded, error).", "outcome"),
		Rollbacks: counter("auto_rollbacks_total", "Automatic rollbacks, by outcome (done, skipped, refused, error).", "outcome"),
	}
}
