package generator

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the generator's own metrics.
type Metrics struct {
	// Cache counts requests by how the registry snapshot was obtained.
	Cache *prometheus.CounterVec
}

// NewMetrics returns the generator's metrics, registered in reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	m := &Metrics{Cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "generator_cache_total",
		Help: "Generator requests by how the registry snapshot was obtained: hit (no DynamoDB call), validated (one GetItem of the change counter), reloaded (GetItem + registry query), stale (DynamoDB failed, the last snapshot was served)."}, []string{"result"})}
	reg.MustRegister(m.Cache)
	return m
}
