package notify

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
)

// maxRefreshRounds bounds the rounds of hard refreshes tried for one change of a cluster
// (each round is itself retried by go-retryablehttp).
const maxRefreshRounds = 5

// Applications is what the refresher needs of the Argo CD API (*argocd.Client).
type Applications interface {
	ListApplications(ctx context.Context) ([]argocd.Application, error)
	HardRefresh(ctx context.Context, app *argocd.Application) error
	Sync(ctx context.Context, app *argocd.Application) error
}

var _ Applications = (*argocd.Client)(nil)

// RefresherOptions configure a Refresher.
type RefresherOptions struct {
	ArgoCD Applications
	// Reader reads the Applications (nil: one of its own over ArgoCD.ListApplications). serve
	// shares one with the rollout driver.
	Reader *argocd.Reader
	// PluginName is the CMP name the Applications use.
	PluginName string
	// Concurrency bounds the hard refreshes in flight.
	Concurrency int
	// Refreshed, when set, is told each completed hard refresh and when it started.
	Refreshed func(app argocd.Key, started time.Time)
	Now       func() time.Time
	Log       *slog.Logger
	Metrics   *Metrics
}

// Refresher hard-refreshes, through the Argo CD API, the Applications that render "latest"
// for the clusters a change affects, then syncs those whose sync policy is automated: Argo
// CD's automated sync skips a Git revision it has synced already, so a new rendering of the
// same revision would otherwise wait for selfHeal. Pinned Applications need neither: the
// ApplicationSet gives them a new configVersion, which changes Argo CD's cache key and its
// sync comparison. Work is coalesced per
// cluster, so the queue is bounded by the number of clusters.
type Refresher struct {
	o RefresherOptions
	q *queue[string, refreshJob] // by cluster
}

type refreshJob struct {
	rounds int
	// seen is when the latest change of the cluster was queued: a reading of the
	// Applications started after it shows what the change needs refreshed.
	seen time.Time
}

// NewRefresher returns a refresher; Run does its work.
func NewRefresher(o RefresherOptions) *Refresher {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Reader == nil {
		list := o.ArgoCD.ListApplications
		// A Reader without a selector always lists every Application: it cannot fail to parse.
		o.Reader, _ = argocd.NewReader(argocd.ReaderOptions{PluginName: o.PluginName, Now: o.Now, Log: o.Log,
			List: func(ctx context.Context, _ string) ([]argocd.Application, error) { return list(ctx) }})
	}
	return &Refresher{o: o, q: newQueue[string, refreshJob](nil)}
}

// Add queues the clusters of changes.
func (r *Refresher) Add(changes []registry.Change) {
	var items []item[string, refreshJob]
	now := r.o.Now()
	for _, ch := range changes {
		for _, c := range ch.Clusters {
			items = append(items, item[string, refreshJob]{Key: c.Name, Val: refreshJob{seen: now}})
		}
	}
	r.q.putAll(items, now)
}

var _ registry.Subscriber = (*Refresher)(nil)

// Loaded does nothing: the Applications render what they pin until a change.
func (r *Refresher) Loaded(*registry.Snapshot) {}

// Changed adds the changes (see Add).
func (r *Refresher) Changed(_ *registry.Snapshot, changes []registry.Change) { r.Add(changes) }

// retry queues a cluster again after a failed round, unless newer work arrived for it.
func (r *Refresher) retry(cluster string, j refreshJob) {
	j.rounds++
	if j.rounds >= maxRefreshRounds {
		r.o.Log.Error("argocd: giving up refreshing the Applications of a cluster", "cluster", cluster, "rounds", j.rounds)
		return
	}
	r.q.putIfAbsent(cluster, j, r.o.Now().Add(time.Duration(1<<j.rounds)*time.Second))
}

// syncBusyTries bounds the sync requests made for one Application while Argo CD answers
// that another operation runs (1 s, 2 s, then 4 s apart).
const syncBusyTries = 4

// sync asks Argo CD to sync app after its hard refresh. While another sync runs, it asks
// again a few times (that sync may have started on the previous rendering); when one keeps
// running it is left to finish (the rollout tracker follows it). It reports false when the
// request failed and the cluster's round should be retried.
func (r *Refresher) sync(ctx context.Context, app *argocd.Application, cluster string) bool {
	b := backoff{min: time.Second, max: 4 * time.Second}
	for try := 1; ; try++ {
		err := r.o.ArgoCD.Sync(ctx, app)
		switch {
		case err == nil:
			r.o.Metrics.Syncs.WithLabelValues("ok").Inc()
			r.o.Log.Info("argocd: application sync requested", "application", string(app.Key()), "cluster", cluster)
			return true
		case ctx.Err() != nil:
			return true
		case errors.Is(err, argocd.ErrOperationInProgress) && try < syncBusyTries:
			t := time.NewTimer(b.next())
			select {
			case <-ctx.Done():
				t.Stop()
				return true
			case <-t.C:
			}
		case errors.Is(err, argocd.ErrOperationInProgress):
			r.o.Metrics.Syncs.WithLabelValues("busy").Inc()
			r.o.Log.Warn("argocd: a sync kept running; not requesting another", "application", string(app.Key()), "cluster", cluster, "tries", try)
			return true
		default:
			r.o.Metrics.Syncs.WithLabelValues("error").Inc()
			r.o.Log.Warn("argocd: sync request failed", "application", string(app.Key()), "cluster", cluster, "error", err)
			return false
		}
	}
}

// Run does the queued work until ctx is done.
func (r *Refresher) Run(ctx context.Context) {
	for {
		items, next := r.q.take(r.o.Now(), 0)
		if len(items) == 0 {
			if !r.q.wait(ctx, next, r.o.Now) {
				return
			}
			continue
		}
		due := make(map[string]refreshJob, len(items))
		for _, it := range items {
			due[it.Key] = it.Val
		}
		r.round(ctx, due)
		if ctx.Err() != nil {
			return
		}
	}
}

// round reads the Applications once (a reading the rollout driver took after the changes
// serves) and hard-refreshes those of the due clusters that follow "latest", a few at a time.
func (r *Refresher) round(ctx context.Context, due map[string]refreshJob) {
	var seen time.Time
	for _, j := range due {
		if j.seen.After(seen) {
			seen = j.seen
		}
	}
	// A reading started at the instant of the change may miss it: one started after it.
	rd, err := r.o.Reader.ReadSince(ctx, seen)
	if err != nil {
		if ctx.Err() == nil {
			r.o.Log.Warn("argocd: cannot list Applications to refresh them; retrying", "clusters", len(due), "error", err)
			for c, j := range due {
				r.retry(c, j)
			}
		}
		return
	}
	plugin := r.o.PluginName
	// In Argo CD's order (by name), as the list answers.
	var apps []*argocd.Application
	for c := range due {
		for _, app := range rd.ByCluster[c] {
			if app.FollowsLatest(plugin) {
				apps = append(apps, app)
			}
		}
	}
	slices.SortFunc(apps, func(a, b *argocd.Application) int {
		return cmp.Or(strings.Compare(a.Metadata.Name, b.Metadata.Name), strings.Compare(string(a.Key()), string(b.Key())))
	})
	var g errgroup.Group
	g.SetLimit(r.o.Concurrency)
	var mu sync.Mutex
	failedClusters := map[string]bool{}
	for _, app := range apps {
		cluster := app.Cluster(plugin)
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			started := r.o.Now()
			if err := r.o.ArgoCD.HardRefresh(ctx, app); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.o.Metrics.Refreshes.WithLabelValues("error").Inc()
				r.o.Log.Warn("argocd: hard refresh failed", "application", string(app.Key()), "cluster", cluster, "error", err)
				mu.Lock()
				failedClusters[cluster] = true
				mu.Unlock()
				return nil
			}
			r.o.Metrics.Refreshes.WithLabelValues("ok").Inc()
			r.o.Log.Info("argocd: application hard-refreshed", "application", string(app.Key()), "cluster", cluster)
			if r.o.Refreshed != nil {
				r.o.Refreshed(app.Key(), started)
			}
			if auto, _ := app.Automated(); auto && !r.sync(ctx, app, cluster) {
				mu.Lock()
				failedClusters[cluster] = true
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report their failures themselves
	for c := range failedClusters {
		r.retry(c, due[c])
	}
}
