// Package generator is the Argo CD ApplicationSet plugin generator API
// (POST /api/v1/getparams.execute): one parameter set per registered cluster, with the
// configVersion pinning its layers, selected by the generator's input filters. The answers
// are encoded once per snapshot of registry.Cache, the registry read cached briefly and
// validated by its change counter.
package generator
