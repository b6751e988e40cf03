// Package serve is the long-running service behind `dynamo-cmp serve`. It only wires the
// parts and owns the HTTP server (/api/v1/getparams.execute, /healthz, /readyz, /metrics),
// readiness, graceful shutdown and the registration of every metric:
//
//   - internal/generator: the ApplicationSet plugin generator API and its registry snapshot
//     cache;
//   - internal/notify: the change watcher and what it pushes on a change (ApplicationSet
//     refresh annotations, hard refreshes of "latest" Applications, webhook events);
//   - internal/progress: rollout tracking, last-known-good records, auto-rollback;
//   - internal/kube, internal/argocd: the thin REST clients, over internal/outbound.
//
// The service keeps no state of its own in DynamoDB beyond the last-known-good records
// (several replicas may run; notifications are at-least-once).
package serve
