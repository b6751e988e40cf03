// Package rollout is what a progressive rollout is: its strategies (ordered waves of
// clusters, each with a bake time and a failure threshold, parsed strictly from a file), the
// plan a strategy makes for the clusters a publish affects, and the rollout's state machine
// (Rollout: progressing, paused, halted, aborted, rolled back, completed), which decides, as a
// pure function of stored state, which version of a layer each cluster is served. It is pure
// data and decisions: the store keeps rollouts, package progress drives them through Argo CD.
package rollout

import (
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

	"github.com/dynamo-cmp/dynamo-cmp/internal/clusterselect"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
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

// Validate checks a strategy; every problem is reported, each naming the wave (counted from 1)
// and the field.
func (s *Strategy) Validate() error {
	return s.errorOf(s.check(nil))
}

// problem is one thing wrong with a strategy.
type problem struct {
	wave  int    // counted from 1; 0: the strategy as a whole
	field string // "" when the problem is the wave (or the strategy) itself
	msg   string
}

// check lists the problems of a strategy, leaving out the fields in skip (their values could
// not be read: the decoder reported them already). Keys of skip: "name", "layers", "waves",
// "waves/N" (a whole wave), "waves/N/FIELD".
func (s *Strategy) check(skip map[string]bool) []problem {
	var out []problem
	add := func(wave int, field, format string, args ...any) {
		out = append(out, problem{wave: wave, field: field, msg: fmt.Sprintf(format, args...)})
	}
	if !skip["name"] {
		checkName(s.Name, func(msg string) { add(0, "name", "%s", msg) })
	}
	if !skip["layers"] {
		if _, err := config.ParseLayerPatterns(s.Layers); err != nil {
			add(0, "layers", "%v", err)
		}
		for _, p := range s.Layers {
			if strings.HasPrefix(strings.TrimSpace(p), "cluster/") {
				add(0, "layers", "%q: a cluster layer reaches one cluster and is never rolled out in waves", p)
			}
		}
	}
	if !skip["waves"] {
		switch {
		case len(s.Waves) == 0:
			add(0, "waves", "at least one wave is needed")
		case len(s.Waves) > MaxWaves:
			add(0, "waves", "%d waves, at most %d", len(s.Waves), MaxWaves)
		}
	}
	seen := map[string]bool{}
	for i, w := range s.Waves {
		n := i + 1
		at := fmt.Sprintf("waves/%d", n)
		if skip[at] {
			continue
		}
		ok := func(field string) bool { return !skip[at+"/"+field] }
		if ok("name") {
			valid := true
			checkName(w.Name, func(msg string) { add(n, "name", "%s", msg); valid = false })
			if valid && seen[w.Name] {
				add(n, "name", "another wave has this name")
			}
			seen[w.Name] = true
		}
		if w.LabelSelector != "" && ok("labelSelector") {
			if _, err := labels.Parse(w.LabelSelector); err != nil {
				add(n, "labelSelector", "%v", err)
			}
		}
		if w.NamePattern != "" && ok("namePattern") {
			if _, err := path.Match(w.NamePattern, ""); err != nil {
				add(n, "namePattern", "%q: %v (a shell pattern like \"prod-eu*\")", w.NamePattern, err)
			}
		}
		if w.Environment != "" && ok("environment") {
			if _, err := config.ParseLayerRef("env/" + w.Environment); err != nil {
				add(n, "environment", "%v", err)
			}
		}
		if (w.Percent < 0 || w.Percent > 100) && ok("percent") {
			add(n, "percent", "%d is not between 0 and 100", w.Percent)
		}
		if (w.Bake < 0 || time.Duration(w.Bake) > MaxBake) && ok("bake") {
			add(n, "bake", "%s is not between 0s and %s", time.Duration(w.Bake), MaxBake)
		}
		if w.MaxFailures < 0 && ok("maxFailures") {
			add(n, "maxFailures", "%d is negative", w.MaxFailures)
		}
	}
	return out
}

// checkName reports what is wrong with the name of a strategy or a wave.
func checkName(name string, report func(string)) {
	if name == "" {
		report("required: a DNS label (lower-case letters, digits, -)")
		return
	}
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		report(strings.Join(msgs, "; "))
	}
}

// errorOf joins problems into one error, a line each: "strategy NAME: wave N (WAVE): FIELD: what".
func (s *Strategy) errorOf(problems []problem) error {
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		at := s.label()
		if p.wave > 0 {
			at += ": " + s.waveLabel(p.wave)
		}
		if p.field != "" {
			at += ": " + p.field
		}
		errs[i] = fmt.Errorf("%s: %s", at, p.msg)
	}
	return errors.Join(errs...)
}

// label names the strategy in messages: "strategy NAME" ("strategy" without a name; the name
// quoted when it is not a DNS label).
func (s *Strategy) label() string {
	switch {
	case s.Name == "":
		return "strategy"
	case len(validation.IsDNS1123Label(s.Name)) > 0:
		return fmt.Sprintf("strategy %q", s.Name)
	}
	return "strategy " + s.Name
}

// waveLabel names wave n (counted from 1, as rollout status and the events count) in
// messages: "wave 2 (rest)".
func (s *Strategy) waveLabel(n int) string {
	name := ""
	if n >= 1 && n <= len(s.Waves) {
		name = s.Waves[n-1].Name
	}
	switch {
	case name == "":
		return fmt.Sprintf("wave %d", n)
	case len(validation.IsDNS1123Label(name)) > 0:
		return fmt.Sprintf("wave %d (%q)", n, name)
	}
	return fmt.Sprintf("wave %d (%s)", n, name)
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
		match := w.matcher()
		var matched, kept []Member
		for _, m := range rest {
			if match(m) {
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

// matcher reports whether a cluster matches every selector the wave gives (a wave without
// selectors matches every cluster), by the rule of clusterselect.
func (w Wave) matcher() func(Member) bool {
	var s clusterselect.Selector
	if w.LabelSelector != "" {
		s.Selector, _ = labels.Parse(w.LabelSelector) // checked by Validate
	}
	if w.Environment != "" {
		s.Environments = []string{w.Environment}
	}
	if w.NamePattern != "" {
		s.NamePatterns = []string{w.NamePattern}
	}
	return func(m Member) bool {
		return s.Match(clusterselect.Cluster{Name: m.Name, Environment: m.Environment, Labels: m.Labels})
	}
}

// Choose picks the strategy of a publish of ref: the one named (an error when it does not
// exist), none for allAtOnce or a cluster layer, else the layer's own (see Resolve).
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
	if name != "" {
		i := slices.IndexFunc(strategies, func(s Strategy) bool { return s.Name == name })
		if i < 0 {
			known := map[string]bool{}
			for _, s := range strategies {
				known[s.Name] = true
			}
			if len(known) == 0 {
				return nil, fmt.Errorf("--strategy %s: the table has no rollout strategies (dynamo-cmp rollout strategy put -f FILE)", name)
			}
			return nil, fmt.Errorf("--strategy %s: no such strategy; the table has %s", name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
		return &strategies[i], nil
	}
	return Resolve(strategies, ref).Strategy, nil
}

// Use is the strategy a layer uses when a publish names none, and why.
type Use struct {
	// Strategy is nil when the layer's publishes reach every affected cluster at once.
	Strategy *Strategy
	// Pattern is what chose it: the pattern of its layers that matched (the layer's own
	// name, "env/*" or "*"), or DefaultStrategy when it is the default.
	Pattern string
	// Tied are the other strategies whose layers match as closely, passed over because
	// Strategy's name comes first in alphabetical order.
	Tied []string
}

// Resolve says which strategy a publish of ref uses when it names none: the strategy whose
// layers match ref most closely (its exact name, then "env/*", then "*"; strategies equally
// close go to the first name in alphabetical order), else the one named "default", else none.
// Cluster layers use none.
func Resolve(strategies []Strategy, ref config.LayerRef) Use {
	if ref.Scope == config.ScopeCluster {
		return Use{}
	}
	var best *Strategy
	var tied []string
	bestScore := 0
	for i := range strategies {
		s := &strategies[i]
		score := config.LayerPatterns(s.Layers).Specificity(ref)
		switch {
		case score == 0:
		case score > bestScore:
			best, bestScore, tied = s, score, nil
		case score == bestScore && s.Name < best.Name:
			tied = append(tied, best.Name)
			best = s
		case score == bestScore:
			tied = append(tied, s.Name)
		}
	}
	if best != nil {
		slices.Sort(tied)
		return Use{Strategy: best, Pattern: matchedPattern(best.Layers, ref), Tied: tied}
	}
	for i := range strategies {
		if strategies[i].Name == DefaultStrategy {
			return Use{Strategy: &strategies[i], Pattern: DefaultStrategy}
		}
	}
	return Use{}
}

// matchedPattern is the pattern of layers that matches ref most closely.
func matchedPattern(layers []string, ref config.LayerRef) string {
	best, bestScore := "", 0
	for _, p := range layers {
		if score := config.LayerPatterns([]string{p}).Specificity(ref); score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}
