package outbound

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the outbound attempts and retries of every target.
type Metrics struct {
	// Attempts counts attempts by target and status code (or "error").
	Attempts *prometheus.CounterVec
	// Retries counts retries by target.
	Retries *prometheus.CounterVec
}

// NewMetrics returns the outbound metrics, registered in reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "outbound_requests_total",
			Help: "Outbound HTTP attempts, by target (kubernetes, argocd, webhook) and status code (or \"error\")."}, []string{"target", "code"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "outbound_retries_total",
			Help: "Outbound HTTP retries, by target."}, []string{"target"}),
	}
	reg.MustRegister(m.Attempts, m.Retries)
	return m
}
