// Package generator is the Argo CD ApplicationSet plugin generator API
// (POST /api/v1/getparams.execute): one parameter set per registered cluster, with the
// configVersion pinning its layers, selected by the generator's input filters and served from
// a registry snapshot cached briefly and validated by the registry's change counter.
package generator
