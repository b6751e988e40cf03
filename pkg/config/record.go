package config

import "reflect"

// RecordOf reads the cluster record among a cluster layer's entries (nil when no entry is of
// kind cluster), as the store keeps it on head, registry and version items and as publish
// checks it before validating. It decodes the record as Resolve does (decodeCluster), so the
// record the store carries is the record the model renders; a field that does not decode is
// left at its zero value, and Resolve's validation reports it. It is the one reading of a
// record from raw entries (store, ops and SelectLayers use it).
func RecordOf(entries []Entry) *Cluster {
	for i := range entries {
		if entries[i].Kind != KindCluster {
			continue
		}
		c, _ := DecodeCluster(&entries[i])
		return &c
	}
	return nil
}

// DecodeCluster decodes a cluster record entry strictly: the typed record, named by the
// entry's key, and the problems of its fields (unknown fields, values of the wrong shape),
// each with its path. RecordOf and Resolve both decode the record with it.
func DecodeCluster(e *Entry) (Cluster, []DecodeProblem) {
	var c Cluster
	var d Decoder
	d.Decode(e.Body, reflect.ValueOf(&c).Elem())
	c.Name = e.Key
	return c, d.Problems
}
