// Package serve is the long-running service behind `dynamo-cmp serve`:
//
//   - the Argo CD ApplicationSet plugin generator (POST /api/v1/getparams.execute): one
//     parameter set per registered cluster, with the configVersion pinning its layers, read
//     from the registry and cached briefly (validated by the registry's change counter);
//   - the change watcher: it polls store.ChangeSeq, reads the registry when it moved, diffs
//     the heads, and pushes: it annotates the ApplicationSets that use the generator with
//     argocd.argoproj.io/application-set-refresh (Kubernetes API), hard-refreshes the
//     Applications that render "latest" (Argo CD API), reports to a webhook, follows the
//     rollout to Synced/Healthy or failure, records each cluster's last known good
//     configVersion in the table, and rolls a layer back when opted in;
//   - operability endpoints: /healthz, /readyz, /metrics.
//
// Every outbound call (Kubernetes, Argo CD, webhook) goes through go-retryablehttp with
// bounded retries and a per-call timeout, from its own goroutine and bounded queue: an outage
// of any of them never slows the generator API. The service keeps no state of its own
// (several replicas may run; notifications are at-least-once).
package serve
