// Package config is the configuration model of dynamo-cmp: layers (global, env/<environment>,
// cluster/<name>) and their keyed entries, cluster records, the typed entries a layer's raw
// bodies decode into (strictly, every problem with its path), and the validated Model of one
// cluster that package render turns into Kubernetes objects. It knows nothing about DynamoDB,
// Argo CD or files; package layerfile reads layer files, merge merges layers, validate
// resolves a merge into a Model.
//
// The packages under pkg/ are dynamo-cmp's public core, for tools that read and render layers
// exactly as `dynamo-cmp generate` does (a CI check, a Terraform provider, a portal). Their API
// is v0: it may change before 1.0.
package config
