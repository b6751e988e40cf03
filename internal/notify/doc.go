// Package notify pushes registry changes out: the change watcher (it polls the change
// counter and diffs the registry snapshots into Changes), the ApplicationSet annotator
// (Kubernetes API), the Argo CD refresher (hard refresh, then sync, of the Applications that
// render "latest") and the webhook. The three push to their target from their own goroutine
// and one kind of coalescing delay queue, so an outage of any target never slows the
// generator API.
package notify
