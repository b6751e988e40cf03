// Package importer turns the objects a fleet runs today (rendered per-cluster manifests, or
// what live API servers hold) into dynamo-cmp layers: each object mapped to a typed entry
// where the layer model knows its kind and renders it back exactly, else to an extra
// manifest; entries factored into global, env/<environment> and cluster/<name> as the
// smallest overrides the merge rules allow; and the result proven by rendering every cluster
// through the same pipeline generate uses and comparing it with what was imported.
//
// It depends on pkg/ (config, layerfile, merge, validate, render) and internal/ops only (no cloud SDK), so it
// can move under pkg/ with them.
package importer
