// Package config owns the configuration model of dynamo-cmp: layers and their entries, the
// decoding of layer files, the layered merge (global → env/<environment> → cluster/<name>),
// variable substitution, strict decoding into typed entries and validation of the merged
// result. It knows nothing about DynamoDB or Argo CD; it turns raw entries into a validated
// Model that the render package turns into Kubernetes objects.
package config
