// Package kube is the service's thin Kubernetes REST client: it lists ApplicationSets and
// sets their refresh annotation, nothing else.
package kube
