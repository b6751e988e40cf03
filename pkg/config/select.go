package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// SelectLayers picks from layers the ones a cluster merges, lowest first: global,
// env/<environment> and cluster/<name>. The environment is taken from the cluster record
// unless given. Missing global or env layers are allowed (they are empty); the cluster layer
// is required.
func SelectLayers(layers []Layer, cluster, environment string) ([]Layer, error) {
	byRef := map[LayerRef]Layer{}
	for _, l := range layers {
		byRef[l.Ref] = l
	}
	cl, ok := byRef[ClusterLayer(cluster)]
	if !ok {
		return nil, fmt.Errorf("no layer cluster/%s in the given files", cluster)
	}
	if environment == "" {
		environment = ClusterEnvironment(cl)
		if environment == "" {
			return nil, fmt.Errorf("cluster/%s: the cluster record names no environment (cluster.environment)", cluster)
		}
	}
	var out []Layer
	if g, ok := byRef[GlobalLayer]; ok {
		out = append(out, g)
	}
	if e, ok := byRef[EnvLayer(environment)]; ok {
		out = append(out, e)
	}
	return append(out, cl), nil
}

// ClusterEnvironment returns the environment named by a cluster layer's record, or "".
func ClusterEnvironment(l Layer) string {
	if c := RecordOf(l.Entries); c != nil {
		return c.Environment
	}
	return ""
}

// Digest is a content digest of layers ("sha256:" and 16 hex digits), recorded with each
// published version and checked on read: equal inputs give equal digests.
func Digest(layers []Layer) string {
	type entry struct {
		Layer string         `json:"layer"`
		Kind  string         `json:"kind"`
		Key   string         `json:"key"`
		Body  map[string]any `json:"body"`
	}
	var all []entry
	for _, l := range layers {
		entries := append([]Entry(nil), l.Entries...)
		SortEntries(entries)
		for _, e := range entries {
			all = append(all, entry{l.Ref.String(), e.Kind, e.Key, e.Body})
		}
	}
	data, _ := json.Marshal(all)
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:8])
}
