// Package clusterselect is the one rule by which a cluster is selected by its environment,
// region, labels and name: the ApplicationSet plugin generator's input filters and a rollout
// strategy's waves both select clusters by it.
package clusterselect

import (
	"path"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
)

// Selector selects clusters. Every condition given must hold; within a list, any value may
// match. The zero Selector selects every cluster.
type Selector struct {
	// Environments and Regions match the cluster record exactly.
	Environments []string
	Regions      []string
	// Selector matches the cluster record's labels (nil matches every cluster).
	Selector labels.Selector
	// NamePatterns are shell patterns (path.Match: *, ?, [a-z]) matched against the cluster name.
	NamePatterns []string
}

// Cluster is what a Selector looks at of a cluster.
type Cluster struct {
	Name        string
	Environment string
	Region      string
	Labels      map[string]string
}

// Empty reports whether s selects every cluster.
func (s Selector) Empty() bool {
	return len(s.Environments) == 0 && len(s.Regions) == 0 && s.Selector == nil && len(s.NamePatterns) == 0
}

// Match reports whether s selects cluster c.
func (s Selector) Match(c Cluster) bool {
	if len(s.Environments) > 0 && !slices.Contains(s.Environments, c.Environment) {
		return false
	}
	if len(s.Regions) > 0 && !slices.Contains(s.Regions, c.Region) {
		return false
	}
	if s.Selector != nil && !s.Selector.Matches(labels.Set(c.Labels)) {
		return false
	}
	if len(s.NamePatterns) > 0 {
		for _, p := range s.NamePatterns {
			if ok, _ := path.Match(p, c.Name); ok {
				return true
			}
		}
		return false
	}
	return true
}
