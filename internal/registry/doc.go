// Package registry is the service's and the operators' view of the cluster registry and how
// it changes. An Inventory is one reading of it (every layer head, registered cluster and
// rollout, with the configVersion each cluster is served); Diff turns two readings into
// Changes (head moves and rollout steps, with the clusters they reach). In serve, a Cache
// holds the current Snapshot, checked against the registry's change counter (Watch polls
// it), and its Router hands each new snapshot to the generator and tells every Subscriber
// (annotator, refresher, webhook, rollout tracker and driver) what changed.
package registry
