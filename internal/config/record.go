package config

// RecordOf reads the cluster record among a cluster layer's entries (nil when no entry is of
// kind cluster), as the store keeps it on head, registry and version items and as publish
// checks it before validating. It is lenient: fields of the wrong type are left out, and
// Resolve's validation reports them. It is the one reading of a record from raw entries
// (store, ops and SelectLayers use it).
func RecordOf(entries []Entry) *Cluster {
	for _, e := range entries {
		if e.Kind != KindCluster {
			continue
		}
		c := &Cluster{Name: e.Key}
		c.Environment, _ = e.Body["environment"].(string)
		c.Region, _ = e.Body["region"].(string)
		if list, ok := e.Body["projects"].([]any); ok {
			for _, p := range list {
				if s, ok := p.(string); ok {
					c.Projects = append(c.Projects, s)
				}
			}
		}
		c.Labels = stringMap(e.Body["labels"])
		c.Vars = stringMap(e.Body["vars"])
		return c
	}
	return nil
}

// stringMap keeps the string values of a map (nil when there are none to keep).
func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		if s, ok := e.(string); ok {
			out[k] = s
		}
	}
	return out
}
