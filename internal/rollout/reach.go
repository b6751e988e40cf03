package rollout

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// environments are the environments whose clusters the layers s lists reach; nil when they
// reach every environment: s lists global, "env/*" or "*", lists no layer (a strategy a
// publish names with --strategy, for any layer), or is the default strategy.
func (s *Strategy) environments() []string {
	if s.Name == DefaultStrategy || len(s.Layers) == 0 {
		return nil
	}
	var envs []string
	for _, p := range s.Layers {
		p = strings.TrimSpace(p)
		if p == "*" || p == "env/*" {
			return nil
		}
		ref, err := config.ParseLayerRef(p)
		switch {
		case err != nil:
		case ref.Scope == config.ScopeGlobal:
			return nil
		case ref.Scope == config.ScopeEnv && !slices.Contains(envs, ref.Name):
			envs = append(envs, ref.Name)
		}
	}
	if len(envs) == 0 {
		return nil // only cluster layers: refused by Validate
	}
	return envs
}

// CheckScope refuses the waves whose environment is outside every layer the strategy lists:
// such a wave never takes a cluster when the strategy is used for its layers (a strategy for
// env/qa with a wave of environment prod). A strategy that lists no layer, the default one,
// and one that lists global, "env/*" or "*" reach every environment. Unlike Validate, this is
// checked when a strategy is stored, not when it is read.
func (s *Strategy) CheckScope() error {
	envs := s.environments()
	if envs == nil {
		return nil
	}
	var problems []problem
	for i, w := range s.Waves {
		if w.Environment == "" || slices.Contains(envs, w.Environment) {
			continue
		}
		reach := "environment " + envs[0]
		if len(envs) > 1 {
			reach = "environments " + strings.Join(envs, ", ")
		}
		problems = append(problems, problem{wave: i + 1, field: "environment", msg: fmt.Sprintf(
			"%s is never in scope: the layers the strategy lists (%s) reach only %s", w.Environment, envLayers(envs), reach)})
	}
	return s.errorOf(problems)
}

func envLayers(envs []string) string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = config.EnvLayer(e).String()
	}
	return strings.Join(out, ", ")
}

// Warnings names the waves of s that take no cluster of those registered now (members) in
// the scope of the layers s lists, and why: an environment no cluster is in, a label key no
// cluster has, a labelSelector or namePattern no cluster matches, selectors no cluster
// matches together. They are warnings, not errors: clusters may be registered later.
func (s *Strategy) Warnings(members []Member) []string {
	envs := s.environments()
	none := "no registered cluster"
	if envs != nil {
		none += " of " + envLayers(envs)
	}
	var scope []Member
	for _, m := range members {
		if envs == nil || slices.Contains(envs, m.Environment) {
			scope = append(scope, m)
		}
	}
	if len(scope) == 0 {
		return []string{fmt.Sprintf("%s: %s yet: its waves take clusters once they are registered", s.label(), none)}
	}
	var out []string
	for i, w := range s.Waves {
		if why := w.miss(scope, none); why != "" {
			out = append(out, s.label()+": "+s.waveLabel(i+1)+": "+why)
		}
	}
	return out
}

// WhyEmpty says why wave i (counted from 0) of s takes none of members, the clusters a
// publish of ref affects: its environment is outside ref, a selector matches none of them,
// or earlier waves took them. "" when the wave matches some of them.
func (s *Strategy) WhyEmpty(ref config.LayerRef, i int, members []Member) string {
	w := s.Waves[i]
	switch {
	case ref.Scope == config.ScopeEnv && w.Environment != "" && w.Environment != ref.Name:
		return fmt.Sprintf("its environment %s is outside %s, so it never takes a cluster of %s", w.Environment, ref, ref)
	case len(members) == 0:
		return fmt.Sprintf("%s affects no registered cluster", ref)
	}
	noun := "clusters"
	if len(members) == 1 {
		noun = "cluster"
	}
	if why := w.miss(members, fmt.Sprintf("none of the %d %s %s affects", len(members), noun, ref)); why != "" {
		return why
	}
	if i == len(s.Waves)-1 {
		return "earlier waves took every cluster"
	}
	return "earlier waves took every cluster it matches"
}

// miss says which selector of w matches none of members ("" when some member matches them
// all); none names the members in the negative ("no registered cluster").
func (w Wave) miss(members []Member, none string) string {
	missing := func(f func(Member) bool) bool { return !slices.ContainsFunc(members, f) }
	if w.Environment != "" && missing(func(m Member) bool { return m.Environment == w.Environment }) {
		return fmt.Sprintf("environment: %s is in environment %s", none, w.Environment)
	}
	if w.LabelSelector != "" {
		sel, err := labels.Parse(w.LabelSelector)
		if err != nil {
			return "" // reported by Validate
		}
		reqs, _ := sel.Requirements()
		for _, r := range reqs {
			switch r.Operator() {
			case selection.Exists, selection.Equals, selection.DoubleEquals, selection.In, selection.GreaterThan, selection.LessThan:
				if missing(func(m Member) bool { _, ok := m.Labels[r.Key()]; return ok }) {
					return fmt.Sprintf("labelSelector: %s has the label %s", none, r.Key())
				}
			}
		}
		if missing(func(m Member) bool { return sel.Matches(labels.Set(m.Labels)) }) {
			return fmt.Sprintf("labelSelector: %s matches %s", none, w.LabelSelector)
		}
	}
	if w.NamePattern != "" && missing(func(m Member) bool { ok, _ := path.Match(w.NamePattern, m.Name); return ok }) {
		return fmt.Sprintf("namePattern: %s matches %q", none, w.NamePattern)
	}
	if missing(w.matcher()) {
		return fmt.Sprintf("%s matches all its selectors (%s)", none, w.Selectors())
	}
	return ""
}

// Selectors lists the selectors a wave gives: "labelSelector tier=gold, namePattern prod-*,
// environment prod" ("" for none).
func (w Wave) Selectors() string {
	var sel []string
	if w.LabelSelector != "" {
		sel = append(sel, "labelSelector "+w.LabelSelector)
	}
	if w.NamePattern != "" {
		sel = append(sel, "namePattern "+w.NamePattern)
	}
	if w.Environment != "" {
		sel = append(sel, "environment "+w.Environment)
	}
	return strings.Join(sel, ", ")
}
