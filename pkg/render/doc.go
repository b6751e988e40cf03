// Package render turns a validated configuration Model into Kubernetes objects: one generator
// per component (an emit function: it builds each object as a *yaml.Node and hands it to the
// pipeline at once, so a large configuration never holds all its object trees in memory),
// then cross-cutting kio.Filters (common labels and annotations, the patches, Calico sync
// options, in that order) run on each object as it arrives, and the encoded objects are
// sorted and written as a JSON or YAML stream. Rendering is pure and deterministic: the same
// Model and Options always give the same bytes.
//
// The API is v0: it may change before 1.0.
package render
