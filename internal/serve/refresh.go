package serve

import (
	"context"
	"sync"
	"time"
)

// maxRefreshRounds bounds the rounds of hard refreshes tried for one change of a cluster
// (each round is itself retried by go-retryablehttp).
const maxRefreshRounds = 5

// refresher hard-refreshes, through the Argo CD API, the Applications that render "latest"
// for the clusters a change affects. Pinned Applications need no refresh: the ApplicationSet
// gives them a new configVersion, which changes Argo CD's cache key. Work is coalesced per
// cluster, so the queue is bounded by the number of clusters.
type refresher struct {
	s    *Server
	argo *argoClient

	mu      sync.Mutex
	pending map[string]refreshJob // by cluster
	wake    chan struct{}
}

type refreshJob struct {
	due    time.Time
	rounds int
}

func newRefresher(s *Server, a *argoClient) *refresher {
	return &refresher{s: s, argo: a, pending: map[string]refreshJob{}, wake: make(chan struct{}, 1)}
}

// add queues the clusters of changes.
func (r *refresher) add(changes []Change) {
	now := r.s.opts.Now()
	r.mu.Lock()
	for _, ch := range changes {
		for _, c := range ch.Clusters {
			r.pending[c.Name] = refreshJob{due: now}
		}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take returns the clusters due now and when the next one is due.
func (r *refresher) take(now time.Time) (map[string]refreshJob, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	due := map[string]refreshJob{}
	var next time.Time
	for c, j := range r.pending {
		if !j.due.After(now) {
			due[c] = j
			delete(r.pending, c)
			continue
		}
		if next.IsZero() || j.due.Before(next) {
			next = j.due
		}
	}
	return due, next
}

// retry queues a cluster again after a failed round, unless newer work arrived for it.
func (r *refresher) retry(cluster string, j refreshJob) {
	j.rounds++
	if j.rounds >= maxRefreshRounds {
		r.s.log.Error("argocd: giving up refreshing the Applications of a cluster", "cluster", cluster, "rounds", j.rounds)
		return
	}
	j.due = r.s.opts.Now().Add(time.Duration(1<<j.rounds) * time.Second)
	r.mu.Lock()
	if _, newer := r.pending[cluster]; !newer {
		r.pending[cluster] = j
	}
	r.mu.Unlock()
}

func (r *refresher) run(ctx context.Context) {
	for {
		due, next := r.take(r.s.opts.Now())
		if len(due) == 0 {
			if !waitFor(ctx, r.wake, next, r.s.opts.Now) {
				return
			}
			continue
		}
		r.round(ctx, due)
		if ctx.Err() != nil {
			return
		}
	}
}

// round lists the Applications once and hard-refreshes those of the due clusters that follow
// "latest", a few at a time.
func (r *refresher) round(ctx context.Context, due map[string]refreshJob) {
	apps, err := r.argo.listApplications(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.s.log.Warn("argocd: cannot list Applications to refresh them; retrying", "clusters", len(due), "error", err)
			for c, j := range due {
				r.retry(c, j)
			}
		}
		return
	}
	plugin := r.s.opts.PluginName
	sem := make(chan struct{}, r.s.opts.ArgoCD.RefreshConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failedClusters := map[string]bool{}
	for i := range apps {
		app := &apps[i]
		cluster := app.cluster(plugin)
		if _, ok := due[cluster]; !ok || !app.followsLatest(plugin) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			started := r.s.opts.Now()
			if err := r.argo.hardRefresh(ctx, app); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.s.metrics.refreshes.WithLabelValues("error").Inc()
				r.s.log.Warn("argocd: hard refresh failed", "application", string(app.key()), "cluster", cluster, "error", err)
				mu.Lock()
				failedClusters[cluster] = true
				mu.Unlock()
				return
			}
			r.s.metrics.refreshes.WithLabelValues("ok").Inc()
			r.s.log.Info("argocd: application hard-refreshed", "application", string(app.key()), "cluster", cluster)
			if r.s.track != nil {
				r.s.track.refreshed(app.key(), started)
			}
		}()
	}
	wg.Wait()
	for c := range failedClusters {
		r.retry(c, due[c])
	}
}
