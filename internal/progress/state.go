package progress

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// maxChangesPerTrack bounds the head moves remembered for one track.
const maxChangesPerTrack = 16

// Track is the following of one cluster to its target configVersion.
type Track struct {
	Cluster string
	Target  config.ConfigVersion
	// From is what the cluster was served before the latest change (zero: not known).
	From config.ConfigVersion
	// Changes are the head moves that led to Target, oldest first (without their cluster
	// lists).
	Changes  []registry.Change
	Since    time.Time
	Deadline time.Time
	// Failed: the failure was reported (it is reported once; success may still follow).
	Failed bool
	// Baseline tracks follow the current versions at start: they only record the last
	// known good, silently.
	Baseline bool
	// Gen tells a track from the one that replaced it for the same cluster.
	Gen uint64
}

func (r *Track) copy() Track {
	c := *r
	c.Changes = slices.Clone(r.Changes)
	return c
}

// State is what the tracker knows between two readings of the Applications. The tracker
// reads copies (Tracks) and writes back decisions that hold only if the track read has
// not moved on meanwhile (End, SetFailed compare Gen), so an implementation shared by
// replicas needs only conditional writes.
type State interface {
	// Baseline starts following, silently, every cluster of clusters not followed yet, at
	// its current version.
	Baseline(clusters []registry.ClusterInfo, since time.Time, timeout time.Duration)
	// Start starts (or moves on) the tracks of the clusters changes affect.
	Start(changes []registry.Change, timeout time.Duration)
	// Tracks returns copies of the tracks followed, by cluster name.
	Tracks() []Track
	// Active is the number of tracks followed.
	Active() int
	// End stops following r's cluster unless its track moved on since r was read.
	End(r Track)
	// SetFailed records whether r's failure was reported; false when r moved on.
	SetFailed(r Track, failed bool) bool

	// Refreshed records a completed hard refresh of app that started at started.
	Refreshed(app argocd.Key, started time.Time)
	// RefreshedAt is when the last completed hard refresh of app started (zero: none).
	RefreshedAt(app argocd.Key) time.Time
	// PruneRefreshes forgets the hard refreshes that started before before.
	PruneRefreshes(before time.Time)

	// Claim takes the auto-rollback decision key ("<layer>@<version>"); false when it was
	// taken already, so a layer is considered once however many clusters fail.
	Claim(key string) bool
	// Forget drops a decision, to take it again after a transient failure.
	Forget(key string)
}

// MemoryState is the State of one replica, in memory.
type MemoryState struct {
	mu        sync.Mutex
	gen       uint64
	tracks    map[string]*Track // by cluster
	refreshAt map[argocd.Key]time.Time
	handled   map[string]bool
}

var _ State = (*MemoryState)(nil)

// NewMemoryState returns an empty state.
func NewMemoryState() *MemoryState {
	return &MemoryState{tracks: map[string]*Track{}, refreshAt: map[argocd.Key]time.Time{}, handled: map[string]bool{}}
}

// Baseline implements State.
func (m *MemoryState) Baseline(clusters []registry.ClusterInfo, since time.Time, timeout time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range clusters {
		if _, ok := m.tracks[c.Name]; ok {
			continue
		}
		m.gen++
		m.tracks[c.Name] = &Track{Cluster: c.Name, Target: c.Served, Since: since, Deadline: since.Add(timeout), Baseline: true, Gen: m.gen}
	}
}

// Start implements State.
func (m *MemoryState) Start(changes []registry.Change, timeout time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range changes {
		light := ch
		light.Clusters, light.Before = nil, nil
		before := make(map[string]config.ConfigVersion, len(ch.Before))
		for _, b := range ch.Before {
			before[b.Name] = b.Served
		}
		for _, c := range ch.Clusters {
			r := m.tracks[c.Name]
			if r == nil || r.Baseline {
				r = &Track{Cluster: c.Name}
				m.tracks[c.Name] = r
			}
			m.gen++
			r.Gen = m.gen
			r.Target, r.From = c.Served, before[c.Name]
			r.Changes = append(r.Changes, light)
			if len(r.Changes) > maxChangesPerTrack {
				r.Changes = r.Changes[len(r.Changes)-maxChangesPerTrack:]
			}
			r.Since = ch.DetectedAt
			r.Deadline = ch.DetectedAt.Add(timeout)
			r.Failed = false
		}
	}
}

// Tracks implements State.
func (m *MemoryState) Tracks() []Track {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Track, 0, len(m.tracks))
	for _, r := range m.tracks {
		out = append(out, r.copy())
	}
	slices.SortFunc(out, func(a, b Track) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

// Active implements State.
func (m *MemoryState) Active() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tracks)
}

// End implements State.
func (m *MemoryState) End(r Track) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.tracks[r.Cluster]; ok && cur.Gen == r.Gen {
		delete(m.tracks, r.Cluster)
	}
}

// SetFailed implements State.
func (m *MemoryState) SetFailed(r Track, failed bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.tracks[r.Cluster]
	if !ok || cur.Gen != r.Gen {
		return false
	}
	cur.Failed = failed
	return true
}

// Refreshed implements State.
func (m *MemoryState) Refreshed(app argocd.Key, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if started.After(m.refreshAt[app]) {
		m.refreshAt[app] = started
	}
}

// RefreshedAt implements State.
func (m *MemoryState) RefreshedAt(app argocd.Key) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refreshAt[app]
}

// PruneRefreshes implements State.
func (m *MemoryState) PruneRefreshes(before time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for app, at := range m.refreshAt {
		if at.Before(before) {
			delete(m.refreshAt, app)
		}
	}
}

// maxHandled bounds the decisions remembered.
const maxHandled = 10000

// Claim implements State.
func (m *MemoryState) Claim(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.handled[key] {
		return false
	}
	if len(m.handled) >= maxHandled {
		m.handled = map[string]bool{}
	}
	m.handled[key] = true
	return true
}

// Forget implements State.
func (m *MemoryState) Forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.handled, key)
}
