// Package serve is the long-running service behind `dynamo-cmp serve`. It only wires the
// parts and owns the HTTP server (/api/v1/getparams.execute, /healthz, /readyz, /metrics),
// readiness, graceful shutdown and the registration of every metric:
//
//   - internal/registry: the registry snapshot cache, watched through the change counter,
//     and the Router that tells each part what changed;
//   - internal/generator: the ApplicationSet plugin generator API;
//   - internal/notify: what is pushed on a change (ApplicationSet refresh annotations, hard
//     refreshes of "latest" Applications, webhook events of package event);
//   - internal/progress: the rollout driver and tracker, last-known-good records,
//     auto-rollback;
//   - internal/kube, internal/argocd: the thin REST clients, over internal/outbound.
//
// The service keeps no state of its own in DynamoDB beyond the last-known-good records
// (several replicas may run; notifications are at-least-once).
package serve
