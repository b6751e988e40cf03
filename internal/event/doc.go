// Package event is the schema of the events dynamo-cmp serve reports to its webhook: the
// event types (publish, rollback, synced, degraded, rollout-halted ...), the JSON object each
// POST carries, and ids that are the same for the same fact whichever replica reports it. The
// rollout tracker and driver (package progress) make events; the webhook (package notify)
// delivers them.
package event
