// Package notify pushes registry changes out to the systems that act on them: the
// ApplicationSet annotator (Kubernetes API), the Argo CD refresher (hard refresh, then sync,
// of the Applications that render "latest") and the webhook (the events of package event,
// signed). Each is a registry.Subscriber told of the changes by registry.Router. The three push to their target from their own goroutine
// and one kind of coalescing delay queue, so an outage of any target never slows the
// generator API.
package notify
