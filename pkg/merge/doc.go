// Package merge merges a cluster's layers, lowest precedence first (global →
// env/<environment> → cluster/<name>): deep merge of entries with the same kind and key,
// keyed lists merged by name, "$patch: delete" and "$patch: replace" directives, and the
// variables (${cluster.name}, ${env} ...) that package validate substitutes. A Merged
// remembers which layer set each field.
//
// The API is v0: it may change before 1.0.
package merge
