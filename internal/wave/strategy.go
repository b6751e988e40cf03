// Package wave holds the data of progressive rollouts: rollout strategies (ordered waves of
// clusters, each with a bake time and a failure threshold), the plan a strategy makes for the
// clusters a publish affects, and the state of a rollout — which decides, as a pure function
// of stored state, which version of a layer each cluster is served.
package wave

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
)

// DefaultStrategy is the name of the strategy used by every global and environment layer
// that no other strategy names.
const DefaultStrategy = "default"

// Limits of a strategy.
const (
	MaxWaves = 20
	MaxBake  = 24 * time.Hour
)

// Strategy is a rollout strategy, stored in the table (dynamo-cmp rollout strategy put).
type Strategy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Layers are the layers that use this strategy when a publish names none ("global",
	// "env/prod", "env/*", "*"). The strategy named "default" applies to every global and
	// environment layer no other strategy lists.
	Layers []string `json:"layers,omitempty"`
	// Waves are reached in order.
	Waves []Wave `json:"waves"`
}

// Wave selects clusters among those not taken by an earlier wave. Every selector given must
// match; Percent then keeps that share of the matching clusters (rounded up, in name order).
// A wave without selectors and percent takes every remaining cluster; clusters no wave takes
// join the last wave.
type Wave struct {
	Name          string   `json:"name"`
	LabelSelector string   `json:"labelSelector,omitempty"`
	NamePattern   string   `json:"namePattern,omitempty"`
	Environment   string   `json:"environment,omitempty"`
	Percent       int      `json:"percent,omitempty"`
	Bake          Duration `json:"bake,omitempty"`
	// MaxFailures is how many of the wave's clusters may fail (SyncFailed, Degraded, render
	// error, timeout) before the rollout halts.
	MaxFailures int `json:"maxFailures,omitempty"`
}

// Duration is a time.Duration written like "10s" or "5m".
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"10s\" or \"5m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (like \"10s\" or \"5m\")", s)
	}
	*d = Duration(v)
	return nil
}

// ParseStrategy reads a strategy from YAML or JSON, strictly (an unknown field is an error),
// and checks it.
func ParseStrategy(data []byte) (Strategy, error) {
	var s Strategy
	if len(bytes.TrimSpace(data)) == 0 {
		return s, errors.New("the strategy is empty")
	}
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return s, fmt.Errorf("strategy: %s", strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: "))
	}
	return s, s.Validate()
}

// Validate checks a strategy; the errors name the wave and the field.
func (s *Strategy) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if msgs := validation.IsDNS1123Label(s.Name); len(msgs) > 0 {
		add("strategy %q: name: %s", s.Name, strings.Join(msgs, "; "))
	}
	if _, err := config.ParseLayerPatterns(s.Layers); err != nil {
		add("strategy %s: layers: %v", s.Name, err)
	}
	for _, p := range s.Layers {
		if strings.HasPrefix(strings.TrimSpace(p), "cluster/") {
			add("strategy %s: layers: %q: a cluster layer reaches one cluster and is never rolled out in waves", s.Name, p)
		}
	}
	switch {
	case len(s.Waves) == 0:
		add("strategy %s: waves: at least one wave is needed", s.Name)
	case len(s.Waves) > MaxWaves:
		add("strategy %s: waves: %d waves, at most %d", s.Name, len(s.Waves), MaxWaves)
	}
	seen := map[string]bool{}
	for i, w := range s.Waves {
		at := fmt.Sprintf("strategy %s: waves[%d]", s.Name, i)
		if w.Name != "" {
			at += " (" + w.Name + ")"
		}
		if msgs := validation.IsDNS1123Label(w.Name); len(msgs) > 0 {
			add("%s: name: %s", at, strings.Join(msgs, "; "))
		} else if seen[w.Name] {
			add("%s: name: another wave has this name", at)
		}
		seen[w.Name] = true
		if w.LabelSelector != "" {
			if _, err := labels.Parse(w.LabelSelector); err != nil {
				add("%s: labelSelector: %v", at, err)
			}
		}
		if w.NamePattern != "" {
			if _, err := path.Match(w.NamePattern, ""); err != nil {
				add("%s: namePattern %q: %v (a shell pattern like \"prod-eu*\")", at, w.NamePattern, err)
			}
		}
		if w.Environment != "" {
			if _, err := config.ParseLayerRef("env/" + w.Environment); err != nil {
				add("%s: environment: %v", at, err)
			}
		}
		if w.Percent < 0 || w.Percent > 100 {
			add("%s: percent: %d is not between 0 and 100", at, w.Percent)
		}
		if w.Bake < 0 || time.Duration(w.Bake) > MaxBake {
			add("%s: bake: %s is not between 0s and %s", at, time.Duration(w.Bake), MaxBake)
		}
		if w.MaxFailures < 0 {
			add("%s: maxFailures: %d is negative", at, w.MaxFailures)
		}
	}
	return errors.Join(errs...)
}

// Member is a cluster as a strategy sees it.
type Member struct {
	Name        string
	Environment string
	Labels      map[string]string
}

// PlannedWave is a wave with the clusters it reaches.
type PlannedWave struct {
	Name        string        `json:"name"`
	Clusters    []string      `json:"clusters"`
	Bake        time.Duration `json:"bake"`
	MaxFailures int           `json:"maxFailures"`
}

// Plan assigns each member to a wave: every wave takes, among the members earlier waves did
// not take, those its selectors match (then Percent of them, rounded up, in name order); the
// members no wave takes join the last wave. Members are taken in name order.
func (s *Strategy) Plan(members []Member) []PlannedWave {
	rest := slices.Clone(members)
	slices.SortFunc(rest, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	out := make([]PlannedWave, len(s.Waves))
	for i, w := range s.Waves {
		out[i] = PlannedWave{Name: w.Name, Bake: time.Duration(w.Bake), MaxFailures: w.MaxFailures, Clusters: []string{}}
		var sel labels.Selector
		if w.LabelSelector != "" {
			sel, _ = labels.Parse(w.LabelSelector) // checked by Validate
		}
		var matched, kept []Member
		for _, m := range rest {
			ok := (sel == nil || sel.Matches(labels.Set(m.Labels))) &&
				(w.Environment == "" || w.Environment == m.Environment)
			if ok && w.NamePattern != "" {
				ok, _ = path.Match(w.NamePattern, m.Name)
			}
			if ok {
				matched = append(matched, m)
			} else {
				kept = append(kept, m)
			}
		}
		if w.Percent > 0 && w.Percent < 100 {
			n := int(math.Ceil(float64(len(matched)) * float64(w.Percent) / 100))
			kept = append(kept, matched[n:]...)
			matched = matched[:n]
			slices.SortFunc(kept, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		}
		for _, m := range matched {
			out[i].Clusters = append(out[i].Clusters, m.Name)
		}
		rest = kept
	}
	last := &out[len(out)-1]
	for _, m := range rest {
		last.Clusters = append(last.Clusters, m.Name)
	}
	slices.Sort(last.Clusters)
	return out
}

// Choose picks the strategy of a publish of ref: the one named (an error when it does not
// exist), none for allAtOnce or a cluster layer, else the strategy whose layers match ref most
// closely (exact name, then "env/*", then "*"; ties go to the first name), else "default".
// A nil strategy means every affected cluster at once.
func Choose(strategies []Strategy, ref config.LayerRef, name string, allAtOnce bool) (*Strategy, error) {
	if ref.Scope == config.ScopeCluster {
		if name != "" {
			return nil, fmt.Errorf("--strategy %s: %s reaches one cluster; cluster layers are never rolled out in waves", name, ref)
		}
		return nil, nil
	}
	if allAtOnce {
		return nil, nil
	}
	byName := map[string]*Strategy{}
	for i := range strategies {
		byName[strategies[i].Name] = &strategies[i]
	}
	if name != "" {
		s, ok := byName[name]
		if !ok {
			known := slices.Sorted(maps.Keys(byName))
			if len(known) == 0 {
				return nil, fmt.Errorf("--strategy %s: the table has no rollout strategies (dynamo-cmp rollout strategy put -f FILE)", name)
			}
			return nil, fmt.Errorf("--strategy %s: no such strategy; the table has %s", name, strings.Join(known, ", "))
		}
		return s, nil
	}
	var best *Strategy
	bestScore := 0
	for i := range strategies {
		s := &strategies[i]
		score := config.LayerPatterns(s.Layers).Specificity(ref)
		if score > bestScore || (score == bestScore && score > 0 && s.Name < best.Name) {
			best, bestScore = s, score
		}
	}
	if best != nil {
		return best, nil
	}
	return byName[DefaultStrategy], nil
}
