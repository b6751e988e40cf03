package argocd

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultSelector is the label every example ApplicationSet of manifests/examples puts on
// the Applications it generates (app.kubernetes.io/managed-by: dynamo-cmp): serve reads only
// the Applications that carry it, so Argo CD's other Applications cost it nothing.
const DefaultSelector = "app.kubernetes.io/managed-by=dynamo-cmp"

// DefaultMaxListBytes bounds the answer of a list call (decompressed: Argo CD gzips it on the
// wire). Measured with argocd-server v3.6.2 (docs/performance.md, make bench-serve-fleet): an
// Application of the matrix example ApplicationSet after a sync of 7 objects weighs 8,400
// bytes in the list, so 5,000 weigh 40 MiB (1.1 MiB gzipped); 128 MiB holds about 16,000.
// The answer is decoded as it arrives, so the limit bounds the time spent, not serve's memory
// (only the fields read are kept).
const DefaultMaxListBytes = 128 << 20

// DefaultCensusInterval is how often the Reader reads every Application, when it reads with a
// selector, to find the plugin's Applications the selector misses.
const DefaultCensusInterval = 10 * time.Minute

// Lister lists the Applications that match a label selector ("" matches every one):
// (*Client).List.
type Lister func(ctx context.Context, selector string) ([]Application, error)

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	List Lister
	// PluginName is the CMP name the Applications use: a reading holds only theirs.
	PluginName string
	// Selector is the label selector of the list calls ("" reads every Application).
	Selector string
	// CensusInterval is how often every Application is read instead, to find the plugin's
	// Applications the selector misses (DefaultCensusInterval when zero).
	CensusInterval time.Duration
	Now            func() time.Time
	Log            *slog.Logger
	Metrics        *ReaderMetrics
}

// Reading is the plugin's Applications as one list call returned them. It is shared by every
// part of serve that asked for it: read only.
type Reading struct {
	// At is when the list call started: the reading shows no change made before At.
	At time.Time
	// ByCluster holds the Applications that use the plugin, by the cluster they render, each
	// list sorted by Key.
	ByCluster map[string][]*Application
	// Census tells whether this reading listed every Application (not only the selected ones).
	Census bool
}

// Applications counts the plugin's Applications of the reading.
func (r *Reading) Applications() int {
	n := 0
	for _, l := range r.ByCluster {
		n += len(l)
	}
	return n
}

// Reader is serve's one reader of Argo CD's Applications: the rollout driver (and the
// tracker it hands the reading to) and the refresher share its readings, so a change is
// judged and refreshed on one list call, not one per part.
//
// It reads with a label selector (DefaultSelector), so only the Applications the example
// ApplicationSets generate are listed. An Application of the plugin without that label
// would be invisible to the rollouts: so every CensusInterval (and at the first reading) it
// lists every Application instead, and when the plugin's Applications include some the
// selector misses, it says so (a warning naming one of them, the metric
// argocd_applications_unselected) and keeps reading every Application until they carry it.
type Reader struct {
	o   ReaderOptions
	sel labels.Selector

	mu         sync.Mutex
	last       *Reading
	inflight   *readCall
	lastCensus time.Time
	// unselected counts the plugin's Applications the selector missed at the last census:
	// while it is above zero every reading is a census.
	unselected int
}

type readCall struct {
	at   time.Time
	done chan struct{}
	rd   *Reading
	err  error
}

// NewReader returns a reader; it fails on a selector that does not parse.
func NewReader(o ReaderOptions) (*Reader, error) {
	sel, err := labels.Parse(o.Selector)
	if err != nil {
		return nil, fmt.Errorf("argo cd: the Application selector %q: %w", o.Selector, err)
	}
	o.CensusInterval = cmp.Or(o.CensusInterval, DefaultCensusInterval)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Reader{o: o, sel: sel}, nil
}

// ReadSince returns a reading started after t: the last one when it is, else the one in
// flight when it started after t, else a new one. A zero t takes any reading.
func (r *Reader) ReadSince(ctx context.Context, t time.Time) (*Reading, error) {
	r.mu.Lock()
	if r.last != nil && (t.IsZero() || r.last.At.After(t)) {
		rd := r.last
		r.mu.Unlock()
		return rd, nil
	}
	c := r.inflight
	if c == nil || !(t.IsZero() || c.at.After(t)) {
		c = &readCall{at: r.o.Now(), done: make(chan struct{})}
		r.inflight = c
		census := r.o.Selector == "" || r.unselected > 0 || r.lastCensus.IsZero() || c.at.Sub(r.lastCensus) >= r.o.CensusInterval
		r.mu.Unlock()
		// The caller that starts a call makes it; later callers wait for it (in serve all
		// share one context, so none is cancelled alone).
		r.read(ctx, c, census)
		return c.rd, c.err
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.rd, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// read makes one list call (of every Application when census) and publishes its reading.
func (r *Reader) read(ctx context.Context, c *readCall, census bool) {
	defer close(c.done)
	selector := r.o.Selector
	if census {
		selector = ""
	}
	apps, err := r.o.List(ctx, selector)
	r.o.Metrics.read(census, err)
	if err != nil {
		c.err = err
		r.mu.Lock()
		if r.inflight == c {
			r.inflight = nil
		}
		r.mu.Unlock()
		return
	}
	rd := &Reading{At: c.at, ByCluster: map[string][]*Application{}, Census: census && r.o.Selector != ""}
	unselected, example := 0, ""
	for i := range apps {
		app := &apps[i]
		cluster := app.Cluster(r.o.PluginName)
		if cluster == "" {
			continue
		}
		rd.ByCluster[cluster] = append(rd.ByCluster[cluster], app)
		if rd.Census && !r.sel.Matches(labels.Set(app.Metadata.Labels)) {
			if unselected++; example == "" || string(app.Key()) < example {
				example = string(app.Key())
			}
		}
	}
	for _, l := range rd.ByCluster {
		slices.SortFunc(l, func(a, b *Application) int { return strings.Compare(string(a.Key()), string(b.Key())) })
	}
	c.rd = rd
	r.o.Metrics.set(rd)

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight == c {
		r.inflight = nil
	}
	if r.last == nil || !rd.At.Before(r.last.At) {
		r.last = rd
	}
	if !rd.Census {
		return
	}
	r.lastCensus = c.at
	prev := r.unselected
	r.unselected = unselected
	r.o.Metrics.unselected(unselected)
	switch {
	case unselected > 0 && prev != unselected:
		r.o.Log.Warn("argocd: Applications of the plugin lack the label of --argocd-selector: reading every Application instead, which costs more at scale; add the label in their ApplicationSet's template (manifests/examples) or set --argocd-selector to match them",
			"selector", r.o.Selector, "unselected", unselected, "example", example)
	case unselected == 0 && prev > 0:
		r.o.Log.Info("argocd: every Application of the plugin matches --argocd-selector again; reading only those", "selector", r.o.Selector)
	}
}

// ReaderMetrics are the reader's metrics.
type ReaderMetrics struct {
	readings    *prometheus.CounterVec
	apps        prometheus.Gauge
	unselectedN prometheus.Gauge
}

// NewReaderMetrics returns the reader's metrics, registered in reg.
func NewReaderMetrics(reg prometheus.Registerer, namespace string) *ReaderMetrics {
	m := &ReaderMetrics{
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "argocd_application_readings_total",
			Help: "List calls of Argo CD Applications, by kind (selected: with --argocd-selector; all: every Application, the census) and outcome (ok, error)."},
			[]string{"kind", "outcome"}),
		apps: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "argocd_applications",
			Help: "The Applications of the plugin at the last reading."}),
		unselectedN: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "argocd_applications_unselected",
			Help: "Applications of the plugin that --argocd-selector misses, at the last census: while above 0 serve reads every Application."}),
	}
	reg.MustRegister(m.readings, m.apps, m.unselectedN)
	return m
}

func (m *ReaderMetrics) read(census bool, err error) {
	if m == nil {
		return
	}
	kind, outcome := "selected", "ok"
	if census {
		kind = "all"
	}
	if err != nil {
		outcome = "error"
	}
	m.readings.WithLabelValues(kind, outcome).Inc()
}

func (m *ReaderMetrics) set(rd *Reading) {
	if m != nil {
		m.apps.Set(float64(rd.Applications()))
	}
}

func (m *ReaderMetrics) unselected(n int) {
	if m != nil {
		m.unselectedN.Set(float64(n))
	}
}
