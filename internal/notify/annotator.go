package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/generator"
	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// ApplicationSets is what the annotator needs of the Kubernetes API (*kube.Client).
type ApplicationSets interface {
	ListApplicationSets(ctx context.Context, ns string) ([]kube.ApplicationSet, error)
	Annotate(ctx context.Context, set kube.ApplicationSet) error
}

var _ ApplicationSets = (*kube.Client)(nil)

// maxGeneratorDepth bounds the nesting of matrix and merge generators followed.
const maxGeneratorDepth = 8

// pluginInputs returns the input.parameters of every plugin generator among gens (nested
// matrix and merge generators included) whose configMapRef names configMap. A generator
// without parameters gives a nil map. An empty result means the ApplicationSet does not use
// the generator.
func pluginInputs(gens []json.RawMessage, configMap string) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	var walk func(gens []json.RawMessage, depth int)
	walk = func(gens []json.RawMessage, depth int) {
		if depth > maxGeneratorDepth {
			return
		}
		for _, raw := range gens {
			var g struct {
				Plugin *struct {
					ConfigMapRef struct {
						Name string `json:"name"`
					} `json:"configMapRef"`
					Input struct {
						Parameters map[string]json.RawMessage `json:"parameters"`
					} `json:"input"`
				} `json:"plugin"`
				Matrix *struct {
					Generators []json.RawMessage `json:"generators"`
				} `json:"matrix"`
				Merge *struct {
					Generators []json.RawMessage `json:"generators"`
				} `json:"merge"`
			}
			if json.Unmarshal(raw, &g) != nil {
				continue
			}
			if g.Plugin != nil && g.Plugin.ConfigMapRef.Name == configMap {
				out = append(out, g.Plugin.Input.Parameters)
			}
			if g.Matrix != nil {
				walk(g.Matrix.Generators, depth+1)
			}
			if g.Merge != nil {
				walk(g.Merge.Generators, depth+1)
			}
		}
	}
	walk(gens, 0)
	return out
}

// selects reports whether any of the plugin generator inputs selects any of clusters. An
// input that is not a valid filter selects everything (the controller will show its error;
// refreshing costs nothing), and so does a templated one (a plugin generator inside a matrix
// may take its input from the other generator's parameters: {{.env}}).
func selects(inputs []map[string]json.RawMessage, clusters map[string]namedCluster) bool {
	for _, in := range inputs {
		for _, v := range in {
			if bytes.Contains(v, []byte("{{")) {
				return true
			}
		}
		f, errs := generator.ParseFilter(in)
		if len(errs) > 0 || f.Empty() {
			return true
		}
		for _, c := range clusters {
			if f.Match(c.name, c.record) {
				return true
			}
		}
	}
	return false
}

// namedCluster is a cluster as one registry snapshot registered it.
type namedCluster struct {
	name   string
	record config.Cluster
}

// clusterKey tells apart the records of a cluster before and after a change.
func clusterKey(c namedCluster) string { return c.name + "\x00" + fmt.Sprint(c.record) }

// AnnotatorOptions configure an Annotator.
type AnnotatorOptions struct {
	Kube ApplicationSets
	// Namespaces are where ApplicationSets are looked for.
	Namespaces []string
	// ConfigMapName is the ConfigMap the ApplicationSets' plugin generators name: those are
	// the ones annotated.
	ConfigMapName string
	// ReannotateAfter: after annotating ApplicationSets for a change, annotate them once more
	// this much later (0 or negative: never).
	ReannotateAfter time.Duration
	Now             func() time.Time
	Log             *slog.Logger
	Metrics         *Metrics
}

// annotation is the work queued for one cluster record (key clusterKey), or for every
// ApplicationSet using the generator (key "").
type annotation struct {
	all     bool
	cluster namedCluster
	// repeat: once done, do it again after ReannotateAfter.
	repeat bool
}

// Annotator refreshes the ApplicationSets that use the generator when clusters change. Work
// is coalesced by cluster record: whatever arrives while a round runs is done in the next
// one, so the queue is bounded by the number of clusters.
type Annotator struct {
	o AnnotatorOptions
	q *queue[string, annotation]
}

// NewAnnotator returns an annotator; Run does its work.
func NewAnnotator(o AnnotatorOptions) *Annotator {
	return &Annotator{o: o, q: newQueue[string](func(old, cur annotation) annotation {
		cur.all = cur.all || old.all
		cur.repeat = cur.repeat || old.repeat
		return cur
	})}
}

// Add asks for the ApplicationSets selecting any of clusters (as registered before or after
// the change), or all of them, to be refreshed.
func (a *Annotator) Add(all bool, clusters []registry.ClusterInfo) {
	repeat := a.o.ReannotateAfter > 0
	var items []item[string, annotation]
	if all {
		items = append(items, item[string, annotation]{Key: "", Val: annotation{all: true, repeat: repeat}})
	}
	for _, c := range clusters {
		nc := namedCluster{name: c.Name, record: c.Record}
		items = append(items, item[string, annotation]{Key: clusterKey(nc), Val: annotation{cluster: nc, repeat: repeat}})
	}
	a.q.putAll(items, a.o.Now())
}

var _ registry.Subscriber = (*Annotator)(nil)

// Loaded annotates every ApplicationSet naming the ConfigMap: publishes made while no replica
// ran reach the ApplicationSets now.
func (a *Annotator) Loaded(*registry.Snapshot) { a.Add(true, nil) }

// Changed annotates the ApplicationSets that select a cluster the changes reach, as it is
// registered now and, for a head move, as it was registered before.
func (a *Annotator) Changed(_ *registry.Snapshot, changes []registry.Change) {
	var clusters []registry.ClusterInfo
	for _, ch := range changes {
		clusters = append(clusters, ch.Clusters...)
		if !ch.Step {
			clusters = append(clusters, ch.Before...)
		}
	}
	a.Add(false, clusters)
}

// Run does the queued work until ctx is done.
func (a *Annotator) Run(ctx context.Context) {
	b := backoff{min: time.Second, max: 30 * time.Second}
	for {
		items, next := a.q.take(a.o.Now(), 0)
		if len(items) == 0 {
			if !a.q.wait(ctx, next, a.o.Now) {
				return
			}
			continue
		}
		all, clusters := false, map[string]namedCluster{}
		for _, it := range items {
			if it.Val.all {
				all = true
			} else {
				clusters[it.Key] = it.Val.cluster
			}
		}
		if err := a.annotate(ctx, all, clusters); err != nil {
			if ctx.Err() != nil {
				return
			}
			pause := b.next()
			a.o.Log.Warn("applicationsets: refresh failed; retrying", "retryIn", pause.String(), "error", err)
			a.q.putAll(items, a.o.Now().Add(pause))
			continue
		}
		b.reset()
		var again []item[string, annotation]
		for _, it := range items {
			if it.Val.repeat {
				it.Val.repeat = false
				again = append(again, it)
			}
		}
		a.q.putAll(again, a.o.Now().Add(a.o.ReannotateAfter))
	}
}

// annotate lists the ApplicationSets of every watched namespace and patches those selecting
// any of clusters (or all that use the generator). Any failure makes the whole round retried
// (the patch is idempotent).
func (a *Annotator) annotate(ctx context.Context, all bool, clusters map[string]namedCluster) error {
	var errs []error
	for _, ns := range a.o.Namespaces {
		sets, err := a.o.Kube.ListApplicationSets(ctx, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, set := range sets {
			if set.Metadata.Namespace == "" {
				set.Metadata.Namespace = ns
			}
			inputs := pluginInputs(set.Spec.Generators, a.o.ConfigMapName)
			if len(inputs) == 0 || (!all && !selects(inputs, clusters)) {
				continue
			}
			if err := a.o.Kube.Annotate(ctx, set); err != nil {
				a.o.Metrics.Annotations.WithLabelValues("error").Inc()
				errs = append(errs, fmt.Errorf("annotate ApplicationSet %s: %w", set.Key(), err))
				continue
			}
			a.o.Metrics.Annotations.WithLabelValues("ok").Inc()
			a.o.Log.Info("applicationset refresh requested", "applicationSet", set.Key(), "clusters", len(clusters), "all", all)
		}
	}
	return errors.Join(errs...)
}
