// Package render turns a validated configuration Model into Kubernetes objects: one generator
// (a kio.Reader) per kind builds *yaml.RNode objects, cross-cutting kio.Filters (common
// labels and annotations, the configuration version, Calico sync options, patches) run after
// them, and the result is sorted and written as a JSON or YAML stream. Rendering is pure and
// deterministic: the same Model and Options always give the same bytes.
package render
