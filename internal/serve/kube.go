package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
)

// kubeClient talks to the Kubernetes API: it lists ApplicationSets and patches their
// refresh annotation. Nothing else.
type kubeClient struct {
	base  string
	token Secret
	http  *retryablehttp.Client
}

func newKubeClient(o *KubeOptions, m *Metrics, log *slog.Logger) (*kubeClient, error) {
	tc, err := tlsConfig(o.CAFile, false)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if _, err := url.Parse(o.URL); err != nil {
		return nil, fmt.Errorf("kubernetes: API server URL: %w", err)
	}
	return &kubeClient{base: strings.TrimSuffix(o.URL, "/"), token: o.Token, http: newClient(targetKube, o.HTTP, tc, m, log)}, nil
}

// applicationSet is the part of an ApplicationSet the service reads.
type applicationSet struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Generators []json.RawMessage `json:"generators"`
	} `json:"spec"`
}

func (a applicationSet) key() string { return a.Metadata.Namespace + "/" + a.Metadata.Name }

const appSetResource = "/apis/argoproj.io/v1alpha1/namespaces/%s/applicationsets"

// listApplicationSets lists the ApplicationSets of a namespace (pages of 250).
func (k *kubeClient) listApplicationSets(ctx context.Context, ns string) ([]applicationSet, error) {
	var out []applicationSet
	path := fmt.Sprintf(appSetResource, url.PathEscape(ns))
	cont := ""
	for {
		q := url.Values{"limit": {"250"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		var page struct {
			Items    []applicationSet `json:"items"`
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
		}
		c := call{target: targetKube, method: http.MethodGet, url: k.base + path + "?" + q.Encode(), path: path, token: k.token}
		if err := c.do(ctx, k.http, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Metadata.Continue == "" {
			return out, nil
		}
		cont = page.Metadata.Continue
	}
}

// annotate sets the refresh annotation with a JSON merge patch, as Argo CD's webhook handler
// does. An ApplicationSet deleted meanwhile is not an error.
func (k *kubeClient) annotate(ctx context.Context, ns, name string) error {
	path := fmt.Sprintf(appSetResource, url.PathEscape(ns)) + "/" + url.PathEscape(name)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RefreshAnnotation: "true"}}})
	c := call{target: targetKube, method: http.MethodPatch, url: k.base + path, path: path, token: k.token,
		body: patch, contentType: "application/merge-patch+json"}
	err := c.do(ctx, k.http, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil
	}
	return err
}

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
		f, errs := ParseFilter(in)
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

// annotationJob is a set of ApplicationSets to refresh: those selecting any of clusters (as
// registered before or after the change), or all that use the generator.
type annotationJob struct {
	all      bool
	clusters map[string]namedCluster
	// repeat: once done, do it again after ReannotateAfter.
	repeat bool
	due    time.Time
}

func (j *annotationJob) merge(o annotationJob) {
	j.all = j.all || o.all
	j.repeat = j.repeat || o.repeat
	for k, c := range o.clusters {
		if j.clusters == nil {
			j.clusters = map[string]namedCluster{}
		}
		j.clusters[k] = c
	}
}

func (j *annotationJob) empty() bool { return !j.all && len(j.clusters) == 0 }

// annotator refreshes the ApplicationSets that use the generator when clusters change. Work
// is coalesced: whatever arrives while a round runs is done in the next one, so the queue is
// bounded by the number of clusters.
type annotator struct {
	s    *Server
	kube *kubeClient

	mu      sync.Mutex
	pending []annotationJob // jobs, each with its due time
	wake    chan struct{}
}

func newAnnotator(s *Server, k *kubeClient) *annotator {
	return &annotator{s: s, kube: k, wake: make(chan struct{}, 1)}
}

// add asks for the ApplicationSets selecting any of clusters (or all of them) to be refreshed.
func (a *annotator) add(all bool, clusters []ops.ClusterInfo) {
	job := annotationJob{all: all, repeat: a.s.opts.ReannotateAfter > 0, due: a.s.opts.Now()}
	for _, c := range clusters {
		if job.clusters == nil {
			job.clusters = map[string]namedCluster{}
		}
		nc := namedCluster{name: c.Name, record: c.Record}
		job.clusters[clusterKey(nc)] = nc
	}
	if job.empty() {
		return
	}
	a.schedule(job)
}

func (a *annotator) schedule(job annotationJob) {
	a.mu.Lock()
	a.pending = append(a.pending, job)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// take merges the jobs due now; next is when the earliest other job is due (zero: none).
func (a *annotator) take(now time.Time) (job annotationJob, next time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rest := a.pending[:0]
	for _, j := range a.pending {
		if !j.due.After(now) {
			job.merge(j)
			continue
		}
		if next.IsZero() || j.due.Before(next) {
			next = j.due
		}
		rest = append(rest, j)
	}
	a.pending = rest
	return job, next
}

func (a *annotator) run(ctx context.Context) {
	backoff := time.Second
	for {
		job, next := a.take(a.s.opts.Now())
		if job.empty() {
			if !waitFor(ctx, a.wake, next, a.s.opts.Now) {
				return
			}
			continue
		}
		if err := a.annotate(ctx, job); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.s.log.Warn("applicationsets: refresh failed; retrying", "retryIn", backoff.String(), "error", err)
			job.due = a.s.opts.Now().Add(backoff)
			a.schedule(job)
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		if job.repeat {
			job.repeat = false
			job.due = a.s.opts.Now().Add(a.s.opts.ReannotateAfter)
			a.schedule(job)
		}
	}
}

// annotate lists the ApplicationSets of every watched namespace and patches those the job
// selects. Any failure makes the whole job retried (the patch is idempotent).
func (a *annotator) annotate(ctx context.Context, job annotationJob) error {
	var errs []error
	for _, ns := range a.s.opts.Kube.Namespaces {
		sets, err := a.kube.listApplicationSets(ctx, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, set := range sets {
			if set.Metadata.Namespace == "" {
				set.Metadata.Namespace = ns
			}
			inputs := pluginInputs(set.Spec.Generators, a.s.opts.ConfigMapName)
			if len(inputs) == 0 || (!job.all && !selects(inputs, job.clusters)) {
				continue
			}
			if err := a.kube.annotate(ctx, set.Metadata.Namespace, set.Metadata.Name); err != nil {
				a.s.metrics.annotations.WithLabelValues("error").Inc()
				errs = append(errs, fmt.Errorf("annotate ApplicationSet %s: %w", set.key(), err))
				continue
			}
			a.s.metrics.annotations.WithLabelValues("ok").Inc()
			a.s.log.Info("applicationset refresh requested", "applicationSet", set.key(), "clusters", len(job.clusters), "all", job.all)
		}
	}
	return errors.Join(errs...)
}

// waitFor waits for a signal on wake, for the time next (when not zero), or for ctx to end;
// it returns false when ctx ended.
func waitFor(ctx context.Context, wake <-chan struct{}, next time.Time, now func() time.Time) bool {
	var tc <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(now()), time.Millisecond))
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-tc:
	}
	return true
}
