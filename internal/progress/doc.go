// Package progress follows each publish into the clusters through the Argo CD API and acts on
// what it sees: it drives rollouts in waves, records each cluster's last known good and rolls
// back automatically.
//
// The Driver moves rollouts in waves on (package rollout is their state machine): it starts a
// wave's bake when its clusters are Synced and Healthy on what they are served, starts the next
// wave after the bake, and halts and rolls back a wave with too many failures. Its state is
// the rollout item in the table, written by conditional steps, so any replica drives.
//
// The Tracker follows each change to every cluster it reaches until the cluster's
// Applications are all Synced and Healthy on the new configVersion (recorded in the table as
// the cluster's last known good), one of them fails or goes Degraded (rolled back
// automatically when the layer is opted in and not rolled out in waves), or the rollout
// times out, and reports each outcome as an event. What it knows between two readings is
// behind the State interface; MemoryState keeps it in this replica (each replica reports on
// its own, with stable event ids).
//
// Both judge a cluster's Applications with one function (judgeCluster over judge), on the
// driver's reading of the Applications (argocd.Reader, shared with the refresher).
package progress
