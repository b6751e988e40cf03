// Package rollout follows each publish to the clusters it affects: it reads their
// Applications from the Argo CD API until they are all Synced and Healthy on the new
// configVersion (recorded in the table as the cluster's last known good), one of them fails
// or goes Degraded (rolled back automatically when the layer is opted in), or the rollout
// times out, and reports each outcome as an event.
//
// What the tracker knows between two readings (the rollouts followed, the hard refreshes
// seen, the rollback decisions taken) is behind the State interface; MemoryState keeps it
// in this replica. A shared State (e.g. in DynamoDB) can replace it so that replicas agree
// on rollouts and a rollout can be gated in waves on the health of the clusters before.
package rollout
