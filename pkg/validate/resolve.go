package validate

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
)

// Resolve merges layers (lowest first) and turns the result into the validated Model of the
// named cluster. A configuration with problems yields a *ValidationError listing every one
// of them, each with the layer that set the offending value.
func Resolve(layers []config.Layer, cluster string) (*config.Model, error) {
	m, err := merge.Merge(layers)
	if err != nil {
		return nil, err
	}
	return ResolveMerged(m, cluster)
}

// ResolveMerged turns the merge of a cluster's layers into the validated Model of the named
// cluster, as Resolve does.
func ResolveMerged(m *merge.Merged, cluster string) (*config.Model, error) {
	r := &resolver{merged: m}
	model := &config.Model{}
	for _, l := range m.Layers {
		model.Layers = append(model.Layers, config.LayerVersion{Ref: l.Ref, Version: l.Version})
	}

	// The cluster record and settings come first: variables depend on them.
	var clusterEntry *config.Entry
	for i := range m.Entries {
		e := &m.Entries[i]
		switch {
		case e.Kind == config.KindCluster && e.Key == cluster:
			clusterEntry = e
		case e.Kind == config.KindCluster:
			r.problem(e, nil, "a cluster record for %q does not belong in the configuration of cluster %q", e.Key, cluster)
		case e.Kind == config.KindSettings:
			r.decodeEntry(e, e.Body, &model.Settings)
		}
	}
	if clusterEntry == nil {
		return nil, fmt.Errorf("%w for %q: the cluster/%s layer must hold a cluster record (environment, region)", config.ErrNoClusterRecord, cluster, cluster)
	}
	var problems []config.DecodeProblem
	model.Cluster, problems = config.DecodeCluster(clusterEntry)
	r.report(clusterEntry, problems)
	vars := merge.NewVariables(model.Cluster, model.Settings.Vars)
	unusable := unusableVariables(model.Cluster)

	r.checkCluster(clusterEntry, &model.Cluster)
	r.checkSettings(model)
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Kind == config.KindCluster || e.Kind == config.KindSettings {
			continue
		}
		body := e.Body
		if e.MayHaveRefs() && merge.ContainsRef(body) {
			sub, _ := vars.Substitute(body, nil, unusable, func(p config.Path, err error) {
				var bad *merge.UnusableVariableError
				if !errors.As(err, &bad) {
					r.problem(e, p, "%v", err)
				}
				// The string is left unexpanded: what its field's checks would say of it
				// is this problem again.
				r.settle(e, p)
			})
			body = sub.(map[string]any)
		}
		resolve := resolvers[e.Kind]
		if resolve == nil {
			r.problem(e, nil, "unknown entry kind %q", e.Kind)
			continue
		}
		resolve(checker{r: r, e: e}, body, model)
	}
	r.checkOverlappingPools(model)
	if len(r.problems) > 0 {
		return nil, &config.ValidationError{Problems: config.SortProblems(r.problems)}
	}
	model.SetOrigins(r.claims, r.merged.HolderRefs)
	return model, nil
}

// resolver collects the problems of one Resolve.
type resolver struct {
	merged   *merge.Merged
	problems []config.FieldError
	// claims maps each rendered object's identity to the entry that renders it.
	claims map[config.ObjectKey]config.Claim
	// settled holds the fields (entry ID and path) whose problem is already reported, or
	// reported elsewhere: no other problem is reported at them.
	settled map[string]bool
}

func settledKey(e *config.Entry, p config.Path) string { return e.ID() + "\x00" + p.String() }

// settle marks a field whose problem is reported.
func (r *resolver) settle(e *config.Entry, p config.Path) {
	if r.settled == nil {
		r.settled = map[string]bool{}
	}
	r.settled[settledKey(e, p)] = true
}

func (r *resolver) problem(e *config.Entry, p config.Path, format string, args ...any) {
	if r.settled[settledKey(e, p)] {
		return
	}
	r.problems = append(r.problems, config.FieldError{
		Layer: r.merged.Origin(e.Kind, e.Key, p),
		Entry: config.EntryPath(e.Kind, e.Key),
		Path:  p.String(),
		Msg:   fmt.Sprintf(format, args...),
	})
}

func (r *resolver) decodeEntry(e *config.Entry, body map[string]any, dst any) {
	var d config.Decoder
	d.Decode(body, reflect.ValueOf(dst).Elem())
	r.report(e, d.Problems)
}

// report adds the decoding problems of an entry.
func (r *resolver) report(e *config.Entry, problems []config.DecodeProblem) {
	for _, p := range problems {
		r.problem(e, p.Path, "%s", p.Msg)
	}
}

func decodeAs[T any](r *resolver, e *config.Entry, body map[string]any) T {
	var v T
	r.decodeEntry(e, body, &v)
	return v
}

// Names the validation derives.
const (
	rbacAPIGroup         = "rbac.authorization.k8s.io"
	quotaNameSuffix      = "-quota"
	limitRangeNameSuffix = "-limits"
)

// unusableVariables are the variables whose values the cluster record sets to something
// invalid (checkCluster reports it there): fields that use them are not reported again.
func unusableVariables(c config.Cluster) map[string]bool {
	out := map[string]bool{}
	if !validDNSLabel(c.Environment) {
		out["cluster.environment"], out["env"] = true, true
	}
	if !validDNSLabel(c.Region) {
		out["cluster.region"] = true
	}
	return out
}
