package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

// Change is one entry that differs between two versions of a layer.
type Change struct {
	Kind, Key string
	// Op is "added", "changed" or "removed".
	Op string
	// Before and After are the entry bodies as YAML ("" when absent).
	Before, After string
}

// ID returns "<kind>/<key>".
func (c Change) ID() string { return c.Kind + "/" + c.Key }

// Unified returns the change as a unified diff, as git writes one: an added entry is
// "--- /dev/null" and "@@ -0,0 +1,N @@", a removed one "+++ /dev/null" and "@@ -1,N +0,0 @@".
func (c Change) Unified() string {
	from, to := "a/"+c.ID(), "b/"+c.ID()
	if c.Before == "" {
		from = "/dev/null"
	}
	if c.After == "" {
		to = "/dev/null"
	}
	text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: diffLines(c.Before), B: diffLines(c.After),
		FromFile: from, ToFile: to, Context: 3,
	})
	return text
}

// diffLines splits text into lines that each end in "\n": none for "", and no empty line
// after the last newline (difflib.SplitLines adds one, which shows as a blank context line).
func diffLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n"
	return lines
}

// Diff compares the entries of two versions of a layer.
func Diff(before, after []config.Entry) []Change {
	type pair struct{ a, b *config.Entry }
	byID := map[string]*pair{}
	var ids []string
	for i := range before {
		e := &before[i]
		byID[e.ID()] = &pair{a: e}
		ids = append(ids, e.ID())
	}
	for i := range after {
		e := &after[i]
		if p, ok := byID[e.ID()]; ok {
			p.b = e
			continue
		}
		byID[e.ID()] = &pair{b: e}
		ids = append(ids, e.ID())
	}
	var out []Change
	for _, id := range ids {
		p := byID[id]
		switch {
		case p.a == nil:
			out = append(out, Change{Kind: p.b.Kind, Key: p.b.Key, Op: "added", After: entryYAML(p.b)})
		case p.b == nil:
			out = append(out, Change{Kind: p.a.Kind, Key: p.a.Key, Op: "removed", Before: entryYAML(p.a)})
		case !sameBody(p.a.Body, p.b.Body):
			out = append(out, Change{Kind: p.a.Kind, Key: p.a.Key, Op: "changed", Before: entryYAML(p.a), After: entryYAML(p.b)})
		}
	}
	entries := make([]config.Entry, len(out))
	for i, c := range out {
		entries[i] = config.Entry{Kind: c.Kind, Key: c.Key}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := entries[idx[i]], entries[idx[j]]
		ka, kb := kindRank(a.Kind), kindRank(b.Kind)
		if ka != kb {
			return ka < kb
		}
		return a.Key < b.Key
	})
	sorted := make([]Change, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

func kindRank(kind string) int {
	for i, k := range config.Kinds() {
		if k == kind {
			return i
		}
	}
	return len(config.Kinds())
}

func sameBody(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func entryYAML(e *config.Entry) string {
	s, err := layerfile.BodyYAML(e.Body)
	if err != nil {
		return fmt.Sprintf("# cannot show %s: %v\n", e.ID(), err)
	}
	return string(s)
}

// PublishRequest is a new version of a layer to publish.
type PublishRequest struct {
	Ref     config.LayerRef
	Entries []config.Entry
	Message string
	Actor   string
	TraceID string
	// Base, when set, is the head version the caller read and edited (config get's
	// version, --base-version): the publish is refused with a *store.ConflictError if the
	// layer's head is elsewhere, and the store moves the head only on condition that it is
	// still there. Nil publishes over whatever the head is when the publish runs.
	Base *int
	// AllowEmpty permits a publish without entries over a layer that has some (it removes
	// them all); without it such a publish is an *EmptyLayerError.
	AllowEmpty bool
	// DryRun validates and diffs but writes nothing.
	DryRun   bool
	Progress Progress
	// Strategy names the rollout strategy to use instead of the layer's own; AllAtOnce
	// uses none (every affected cluster is served the new version at once).
	Strategy  string
	AllAtOnce bool
}

// StrategyError is a --strategy that cannot be used (unknown, or with a cluster layer).
type StrategyError struct{ Err error }

func (e *StrategyError) Error() string { return e.Err.Error() }
func (e *StrategyError) Unwrap() error { return e.Err }

// EmptyLayerError refuses a publish of no entries over a layer that has some: an empty file
// (or a bare "---") is far more often a mistake than a wish to remove every entry.
type EmptyLayerError struct {
	Ref     config.LayerRef
	Version int
	Removed int
}

func (e *EmptyLayerError) Error() string {
	return fmt.Sprintf("refused: the files hold no entries for %s, so publishing them would remove all %d entries of version %d; nothing was changed (to empty the layer on purpose, pass --allow-empty)", e.Ref, e.Removed, e.Version)
}

// PublishResult says what a publish (or rollback) did or would do.
type PublishResult struct {
	Ref config.LayerRef
	// Base is the version the layer was at; Version the new one (0 for a dry run or when
	// nothing changed).
	Base, Version int
	Changes       []Change
	// Clusters are the clusters validated with the change.
	Clusters []string
	Head     store.Head
	// Rollout is the rollout in waves the publish starts (or would start, for a dry run);
	// nil when every affected cluster gets the version at once.
	Rollout *rollout.Rollout
}

// VersionText names a layer version in messages: "3", or "0 (no entries)" for the version
// before a layer's first publish, to which a rollout of that first version rolls back.
func VersionText(v int) string {
	if v == 0 {
		return "0 (no entries)"
	}
	return strconv.Itoa(v)
}

// Moved reports whether the change moved the layer's head (Version alone cannot tell: a
// rollback may move it to version 0).
func (r *PublishResult) Moved() bool { return !r.Head.At.IsZero() }

// Publish publishes entries as the next version of a layer: it diffs them with the current
// version, validates every cluster the layer affects with the change in place — in every
// configVersion the generator may serve it afterwards, live rollouts included (see
// servable) — and only then moves the head (with a condition on the version it validated
// against). A change that would break any cluster in any of them is refused with a
// *RefusedError naming the cluster and the configVersion, and nothing is written. Publishing
// entries equal to the current version does nothing.
func Publish(ctx context.Context, st Store, req PublishRequest) (*PublishResult, error) {
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		return nil, err
	}
	base := inv.Heads[req.Ref].Version
	if req.Base != nil && *req.Base != base {
		return nil, &store.ConflictError{Ref: req.Ref, Expected: *req.Base, Actual: base}
	}
	cache := newLayerCache(st)
	current, err := readReplaced(ctx, cache, req.Ref, base, req.Progress)
	if err != nil {
		return nil, err
	}
	res := &PublishResult{Ref: req.Ref, Base: base, Changes: Diff(current.Entries, req.Entries)}
	if len(res.Changes) == 0 {
		return res, nil
	}
	if len(req.Entries) == 0 && !req.AllowEmpty {
		return res, &EmptyLayerError{Ref: req.Ref, Version: base, Removed: len(current.Entries)}
	}
	if err := requireRecord(inv, req.Ref, req.Entries, "publish"); err != nil {
		return res, err
	}
	// What the store would refuse to write, a dry run refuses too.
	if err := store.CheckEntries(req.Ref, req.Entries); err != nil {
		return res, err
	}
	if err := checkDeletes(ctx, st, inv, req.Ref, req.Entries); err != nil {
		return res, err
	}
	proposed := config.Layer{Ref: req.Ref, Entries: req.Entries}
	clusters := inv.Affected(req.Ref, config.RecordOf(req.Entries))
	for _, c := range clusters {
		res.Clusters = append(res.Clusters, c.Name)
	}
	// The rollout decides what the clusters are served, so it is planned before they are
	// validated.
	if res.Rollout, err = planRollout(ctx, st, inv, &req, base, clusters); err != nil {
		return res, err
	}
	if req.Progress != nil && len(clusters) >= 20 {
		req.Progress("validating the %d clusters %s affects", len(clusters), req.Ref)
	}
	ch := change{layer: proposed}
	if res.Rollout != nil {
		ch.staged, ch.stable = true, res.Rollout.Stable
	}
	policies, err := st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	problems, err := validateServed(ctx, cache, inv, ch, clusters, store.PolicySet(policies), req.Progress)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return res, &RefusedError{Ref: req.Ref, Problems: problems, Checked: len(clusters)}
	}
	if req.DryRun {
		return res, nil
	}
	head, err := st.Publish(ctx, store.PublishInput{Ref: req.Ref, Entries: req.Entries, Base: base, Actor: req.Actor, Message: req.Message, TraceID: req.TraceID, Rollout: res.Rollout})
	if err != nil {
		return res, err
	}
	res.Version, res.Head = head.Version, head
	if res.Rollout != nil {
		res.Rollout.Target = head.Version
	}
	return res, nil
}

// planRollout chooses the strategy of a publish and plans its waves over the clusters it
// affects (nil: all at once). The clusters a live rollout of the layer has not reached yet
// stay on that rollout's stable version until the new one reaches them.
func planRollout(ctx context.Context, st Store, inv *registry.Inventory, req *PublishRequest, base int, clusters []registry.ClusterInfo) (*rollout.Rollout, error) {
	if req.Ref.Scope == config.ScopeCluster && req.Strategy == "" {
		return nil, nil
	}
	stored, err := st.Strategies(ctx)
	if err != nil {
		return nil, err
	}
	strategies := make([]rollout.Strategy, len(stored))
	for i, s := range stored {
		strategies[i] = s.Strategy
	}
	strat, err := rollout.Choose(strategies, req.Ref, req.Strategy, req.AllAtOnce)
	if err != nil {
		return nil, &StrategyError{Err: err}
	}
	if strat == nil {
		return nil, nil
	}
	stable := base
	if old, ok := inv.LiveRollout(req.Ref); ok {
		stable = old.Stable
	}
	if req.TraceID == "" {
		req.TraceID = traceid.New() // the rollout is tied to the head move by it
	}
	r := rollout.New(req.Ref, strat, registry.Members(clusters), stable, 0, req.TraceID, req.Actor, time.Now().UTC())
	return &r, nil
}

// RollbackRequest moves a layer's head back to an earlier published version.
type RollbackRequest struct {
	Ref     config.LayerRef
	To      int
	Message string
	Actor   string
	TraceID string
	// Base, when set, is the head version the caller expects the layer to be at (see
	// PublishRequest.Base): an automatic rollback moves a layer back only from the version it
	// judged, never undoing a newer publish (a *store.ConflictError, nothing moves).
	Base     *int
	DryRun   bool
	Progress Progress
}

// Rollback validates every affected cluster with version To of the layer (in every
// configVersion the generator may serve it afterwards, as Publish does), then moves the head
// there (a pointer move: no new version is written). To 0 moves a global or environment
// layer back to no entries; only the end of a rollout of its first version asks for that.
func Rollback(ctx context.Context, st Store, req RollbackRequest) (*PublishResult, error) {
	inv, err := registry.ReadInventory(ctx, st)
	if err != nil {
		return nil, err
	}
	head, ok := inv.Heads[req.Ref]
	if !ok {
		return nil, fmt.Errorf("layer %s has never been published: %w", req.Ref, store.ErrNotFound)
	}
	if req.Base != nil && *req.Base != head.Version {
		return nil, &store.ConflictError{Ref: req.Ref, Expected: *req.Base, Actual: head.Version}
	}
	if req.To == head.Version {
		return &PublishResult{Ref: req.Ref, Base: head.Version}, nil
	}
	cache := newLayerCache(st)
	target, err := cache.get(ctx, req.Ref, req.To)
	if err != nil {
		return nil, err
	}
	current, err := readReplaced(ctx, cache, req.Ref, head.Version, req.Progress)
	if err != nil {
		return nil, err
	}
	res := &PublishResult{Ref: req.Ref, Base: head.Version, Changes: Diff(current.Entries, target.Entries)}
	if err := requireRecord(inv, req.Ref, target.Entries, fmt.Sprintf("version %d", req.To)); err != nil {
		return res, err
	}
	clusters := inv.Affected(req.Ref, config.RecordOf(target.Entries))
	for _, c := range clusters {
		res.Clusters = append(res.Clusters, c.Name)
	}
	if req.Progress != nil && len(clusters) >= 20 {
		req.Progress("validating the %d clusters %s affects", len(clusters), req.Ref)
	}
	// A head move ends the say of the layer's live rollout: every cluster is served To.
	policies, err := st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	problems, err := validateServed(ctx, cache, inv, change{layer: target, known: true}, clusters, store.PolicySet(policies), req.Progress)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return res, &RefusedError{Ref: req.Ref, Problems: problems, Checked: len(clusters)}
	}
	if req.DryRun {
		return res, nil
	}
	h, err := st.Rollback(ctx, store.RollbackInput{Ref: req.Ref, From: head.Version, To: req.To, Actor: req.Actor, Message: req.Message, TraceID: req.TraceID})
	if err != nil {
		return res, err
	}
	res.Version, res.Head = h.Version, h
	return res, nil
}

// ApplyDrafts returns the entries of the next version: the current entries with the drafts
// applied (a draft replaces the entry with its kind and key, or removes it when marked).
func ApplyDrafts(current []config.Entry, drafts []store.Draft) []config.Entry {
	byID := map[string]int{}
	out := append([]config.Entry(nil), current...)
	for i, e := range out {
		byID[e.ID()] = i
	}
	for _, d := range drafts {
		id := d.Entry.ID()
		i, exists := byID[id]
		switch {
		case d.Delete && exists:
			out[i].Body = nil
		case d.Delete:
		case exists:
			out[i] = d.Entry
		default:
			byID[id] = len(out)
			out = append(out, d.Entry)
		}
	}
	live := out[:0]
	for _, e := range out {
		if e.Body != nil {
			live = append(live, e)
		}
	}
	config.SortEntries(live)
	return live
}

// Summary is a one-line account of changes: "2 added, 1 changed, 0 removed".
func Summary(changes []Change) string {
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Op]++
	}
	return fmt.Sprintf("%d added, %d changed, %d removed", counts["added"], counts["changed"], counts["removed"])
}

// JoinUnified concatenates the unified diffs of changes.
func JoinUnified(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(c.Unified())
	}
	return b.String()
}

// requireRecord refuses a cluster layer without its cluster record: the record registers the
// cluster (its environment, region, projects), so a version without it makes every generate
// of the cluster fail. A layer's entries are the whole layer — publishing a file without the
// record would remove it — so the record is not inherited from the head: it must be in the
// file (config get and config export print it).
func requireRecord(inv *registry.Inventory, ref config.LayerRef, entries []config.Entry, what string) error {
	if ref.Scope != config.ScopeCluster {
		return nil
	}
	rec := config.RecordOf(entries)
	var problem error
	switch {
	case rec == nil:
		hint := "add it: cluster: {environment: dev, region: eu-west-1, projects: [platform]}"
		if h, ok := inv.Heads[ref]; ok && h.Cluster != nil {
			hint = fmt.Sprintf("the published version %d has cluster: {environment: %s, region: %s}: keep it in the file (dynamo-cmp config get --layer %s prints it)", h.Version, h.Cluster.Environment, h.Cluster.Region, ref)
		}
		problem = fmt.Errorf("%s: the %s has no cluster record (the \"cluster:\" section naming its environment and region), so the cluster could not be rendered: %s", ref, what, hint)
	case rec.Environment == "":
		problem = fmt.Errorf("%s: cluster.environment is required: the environment whose layer the cluster merges (e.g. dev)", ref)
	default:
		return nil
	}
	return &RefusedError{Ref: ref, Problems: []ClusterProblem{{Cluster: ref.Name, Err: problem}}, Checked: 1}
}

// readReplaced reads the version a publish or rollback replaces, for the diff. A version that
// no longer reads (its items were edited by hand after it was published) is what such a
// change repairs, so it does not stop the change: the diff is then against an empty layer,
// and progress says why. Nothing of the unreadable version is used.
func readReplaced(ctx context.Context, cache *layerCache, ref config.LayerRef, version int, progress Progress) (config.Layer, error) {
	l, err := cache.get(ctx, ref, version)
	if err == nil || !errors.Is(err, store.ErrInvalidItem) {
		return l, err
	}
	if progress != nil {
		progress("the current version %d of %s cannot be read (%v); the diff below is against an empty layer, and this change replaces that version", version, ref, err)
	}
	return config.Layer{Ref: ref}, nil
}

// RollBackToStable moves the head of rollout r's layer back to the rollout's stable version,
// only from the version the rollout rolls out (RollbackRequest.Base): when anyone published
// or rolled back since, it is a *store.ConflictError and nothing moves. The stable version of
// a layer's first rollout is 0: the head then moves back to "no entries", as before that
// first publish. serve's driver (a halted rollout) and an operator's abort both roll back by
// it; req gives who, why and the trace (its Ref, To and Base are r's).
func RollBackToStable(ctx context.Context, st Store, r rollout.Rollout, req RollbackRequest) (*PublishResult, error) {
	from := r.Target
	req.Ref, req.To, req.Base = r.Layer, r.Stable, &from
	return Rollback(ctx, st, req)
}
