// Package outbound makes the service's outbound JSON calls (Kubernetes, Argo CD, webhook):
// a go-retryablehttp client per target with bounded retries, backoff and a per-attempt
// timeout, counted in Prometheus metrics, and one call type that sends a request and decodes
// a 2xx answer or returns a *StatusError.
package outbound
