// Package provenance answers "which layer set this field?" for the objects rendered from a
// cluster's layers (`dynamo-cmp config explain`): it replays the merge and the resolution and
// attributes every leaf field of a rendered object to a layer, entry and field, a patch, or
// the renderer's defaults.
//
// The API is v0: it may change before 1.0.
package provenance
