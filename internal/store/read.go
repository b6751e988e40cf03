package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"golang.org/x/sync/errgroup"

	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// maxBatchGet is DynamoDB's limit of keys per BatchGetItem.
const maxBatchGet = 100

// maxUnprocessedRetries bounds the retries of unprocessed batch keys or items.
const maxUnprocessedRetries = 8

// Heads returns the heads of the given layers with ONE BatchGetItem (strongly consistent;
// more only if DynamoDB leaves keys unprocessed). Layers never published are absent.
func (s *Store) Heads(ctx context.Context, refs ...config.LayerRef) (map[config.LayerRef]Head, error) {
	heads, _, err := s.heads(ctx, refs)
	return heads, err
}

// heads is Heads that also returns the number of sequential calls it made.
func (s *Store) heads(ctx context.Context, refs []config.LayerRef) (map[config.LayerRef]Head, int, error) {
	out := make(map[config.LayerRef]Head, len(refs))
	var keys []map[string]types.AttributeValue
	seen := map[config.LayerRef]bool{}
	for _, ref := range refs {
		if err := checkRef(ref); err != nil {
			return nil, 0, err
		}
		if !seen[ref] {
			seen[ref] = true
			keys = append(keys, key(layerPK(ref), headSK))
		}
	}
	items, calls, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, calls, fmt.Errorf("read layer heads: %w", err)
	}
	for _, item := range items {
		h, err := decodeHead(item)
		if err != nil {
			return nil, calls, err
		}
		out[h.Ref] = h
	}
	return out, calls, nil
}

// batchGet reads items by key, strongly consistent, retrying unprocessed keys. It returns
// the number of sequential calls made (chunks of 100 keys run one after the other; there
// is never more than one for the store's own reads).
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, int, error) {
	var items []map[string]types.AttributeValue
	calls := 0
	for start := 0; start < len(keys); start += maxBatchGet {
		pending := keys[start:min(start+maxBatchGet, len(keys))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > maxUnprocessedRetries {
					return nil, calls, newError(ErrThrottled, "dynamodb BatchGetItem on table %s: keys still unprocessed after %d retries", s.table, maxUnprocessedRetries)
				}
				if err := sleep(ctx, s.backoff(attempt)); err != nil {
					return nil, calls, s.mapError("BatchGetItem", err)
				}
			}
			out, err := s.batchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{
					s.table: {Keys: pending, ConsistentRead: aws.Bool(true)},
				},
			})
			calls++
			if err != nil {
				return nil, calls, err
			}
			items = append(items, out.Responses[s.table]...)
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	return items, calls, nil
}

// queryAll runs a query to its last page and returns the items and the number of pages.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, int, error) {
	var items []map[string]types.AttributeValue
	pages := 0
	for {
		out, err := s.query(ctx, in)
		pages++
		if err != nil {
			return nil, pages, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, pages, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// prefixQuery is a strongly consistent query of the items of pk whose sk begins with prefix.
func prefixQuery(pk, prefix string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: pk},
			":prefix": &types.AttributeValueMemberS{Value: prefix},
		},
		ConsistentRead: aws.Bool(true),
	}
}

// ChangeSeq returns the change counter, which every publish and rollback (and every rollout
// step that changes what is served) increments in its transaction: one strongly consistent
// BatchGetItem of a tiny item, so a watcher can poll it every few seconds and read the
// registry only when it moved. It is 0 before the first publish. The counter an earlier
// release kept in the registry partition is read in the same call and added: writers of
// either release move the sum, so a watcher sees every change during an upgrade.
func (s *Store) ChangeSeq(ctx context.Context) (int64, error) {
	items, _, err := s.batchGet(ctx, []map[string]types.AttributeValue{key(changesPK, changeSeqSK), key(registryPK, changeSeqSK)})
	if err != nil {
		return 0, fmt.Errorf("read the change counter: %w", err)
	}
	var sum int64
	for _, item := range items {
		v, err := seqOf(item)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// seqOf reads the number attribute seq of a change counter item (0 when absent).
func seqOf(item map[string]types.AttributeValue) (int64, error) {
	n, ok := item["seq"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		pk, sk := keyOf(item)
		return 0, invalidItem(pk, sk, "seq %q is not a number", n.Value)
	}
	return v, nil
}

// ReadVersion reads one published version of a layer with ONE query (all pages, strongly
// consistent): the version's metadata item and its entries. Version 0 is the empty layer
// (never published) and needs no call. A version whose publish never completed is
// ErrNotFound.
func (s *Store) ReadVersion(ctx context.Context, ref config.LayerRef, version int) (config.Layer, error) {
	l, _, err := s.readVersion(ctx, ref, version)
	return l, err
}

// readVersion is ReadVersion that also returns the number of pages read.
func (s *Store) readVersion(ctx context.Context, ref config.LayerRef, version int) (config.Layer, int, error) {
	layer := config.Layer{Ref: ref, Version: version}
	if err := checkRef(ref); err != nil {
		return layer, 0, err
	}
	if version < 0 {
		return layer, 0, fmt.Errorf("layer %s: version %d is not a version number", ref, version)
	}
	if version == 0 {
		return layer, 0, nil
	}
	pk := layerPK(ref)
	items, pages, err := s.queryAll(ctx, prefixQuery(pk, versionSK(version)))
	if err != nil {
		return layer, pages, fmt.Errorf("read layer %s version %d: %w", ref, version, err)
	}
	metaSK := versionSK(version)
	if len(items) == 0 {
		return layer, pages, newError(ErrNotFound, "layer %s has no version %d", ref, version)
	}
	if _, sk := keyOf(items[0]); sk != metaSK {
		return layer, pages, invalidItem(pk, sk, "version %d of layer %s has entries but no metadata item %s", version, ref, metaSK)
	}
	meta, err := decodeVersion(items[0])
	if err != nil {
		return layer, pages, err
	}
	if !meta.Published {
		return layer, pages, newError(ErrNotFound, "version %d of layer %s was never published (its publish was interrupted or lost a conflict)", version, ref)
	}
	entries := make([]config.Entry, 0, len(items)-1)
	for _, item := range items[1:] {
		e, err := entryFromItem(item, version)
		if err != nil {
			return layer, pages, err
		}
		entries = append(entries, e)
	}
	if len(entries) != meta.Entries {
		return layer, pages, invalidItem(pk, metaSK, "version %d of layer %s should have %d entries, the table holds %d (entry items were added or deleted by hand)", version, ref, meta.Entries, len(entries))
	}
	config.SortEntries(entries)
	// Versions are immutable: a value edited in a published version (in the console, say)
	// would silently change what every cluster pinned to it renders. The digest recorded at
	// publish time catches it.
	if meta.Digest != "" {
		if got := config.Digest([]config.Layer{{Ref: ref, Entries: entries}}); got != meta.Digest {
			return layer, pages, invalidItem(pk, metaSK, "version %d of layer %s was changed after it was published (its entries no longer match the digest %s recorded then): restore the edited items, or replace the version: roll back to an earlier one (dynamo-cmp config rollback --layer %s --to N; config history lists them) or publish a new one from your files (dynamo-cmp config publish --layer %s -f FILE)", version, ref, meta.Digest, ref, ref)
		}
	}
	layer.Entries = entries
	return layer, pages, nil
}

// readVersions reads the pinned versions in parallel and returns them in pin order, with the
// longest chain of sequential pages among the parallel queries.
func (s *Store) readVersions(ctx context.Context, pins []Pin) ([]config.Layer, int, error) {
	layers := make([]config.Layer, len(pins))
	pages := make([]int, len(pins))
	err := s.inParallel(ctx, len(pins), func(ctx context.Context, i int) error {
		var err error
		layers[i], pages[i], err = s.readVersion(ctx, pins[i].Ref, pins[i].Version)
		return err
	})
	return layers, maxOf(pages), err
}

// inParallel runs fn(0..n-1) with at most s.parallel at once. The first error cancels the
// others' context and is returned (errors are taken in index order for determinism).
func (s *Store) inParallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(s.parallel, 1))
	errs := make([]error, n)
	for i := range n {
		g.Go(func() error {
			if errs[i] = ctx.Err(); errs[i] == nil { // after a failure, the calls not started yet are not made
				errs[i] = fn(ctx, i)
			}
			return errs[i]
		})
	}
	_ = g.Wait() // errs holds every error, and the one to return is chosen below
	// Prefer a real failure over the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// maxOf is the largest of xs, 0 for none.
func maxOf(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

// ClusterRequest names the cluster of a generation read. Environment and Version are
// optional: each one known saves a round trip.
type ClusterRequest struct {
	Cluster string
	// Environment is the cluster's environment, if the caller knows it (e.g. from the
	// ApplicationSet generator); it must match the cluster record.
	Environment string
	// Version pins the three layers; nil reads the current heads.
	Version *config.ConfigVersion
	// Policies reads the policies too, in parallel with the layers: a query of the policy
	// partition alongside the first call, so it adds no round trip.
	Policies bool
}

// ClusterLayers is the result of a generation read.
type ClusterLayers struct {
	// Layers are global, env/<environment> and cluster/<name>, in that order; a layer
	// never published is an empty Layer with Version 0.
	Layers      []config.Layer
	Environment string
	Version     config.ConfigVersion
	// Cluster is the cluster record (from the cluster layer's head, or from the pinned
	// version's cluster entry).
	Cluster config.Cluster
	// Current is the cluster record of the cluster layer's current head: what the cluster
	// allows now, whatever version was pinned. For a latest read it is Cluster; a pinned read
	// reads the head alongside its version queries (one more BatchGetItem of one small item,
	// no more round trips), so an authorisation removed since the pinned version was
	// published cannot be dodged by pinning it.
	Current config.Cluster
	// Policies are the policies stored, when the request asked for them.
	Policies policy.Set
	// RoundTrips is the number of sequential DynamoDB calls on the critical path.
	RoundTrips int
}

// ReadCluster reads the layers a cluster's configuration merges, with strongly consistent
// reads and as few sequential round trips as the request allows:
//
//   - version pinned, environment known: 1 (the three version queries and the cluster
//     layer's head in parallel);
//   - version pinned, environment unknown: 2 (the cluster and global versions and the
//     cluster layer's head, then the environment's version);
//   - latest, environment known: 2 (one BatchGetItem of the three heads, then the queries);
//   - latest, environment unknown: 3 (the global and cluster heads, then the environment's
//     head, with the global and cluster queries running alongside, then its query).
//
// With req.Policies, the policy partition is queried at the same time, in parallel with the
// whole read: the round trips stay the same.
//
// A cluster whose layer was never published is ErrNotFound ("not registered").
func (s *Store) ReadCluster(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	if !req.Policies {
		return s.readCluster(ctx, req)
	}
	type policies struct {
		set   policy.Set
		pages int
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan policies, 1)
	go func() {
		stored, pages, err := s.policies(ctx)
		done <- policies{PolicySet(stored), pages, err}
	}()
	out, err := s.readCluster(ctx, req)
	if err != nil {
		return nil, err // cancel stops the query
	}
	p := <-done
	if p.err != nil {
		return nil, p.err
	}
	out.Policies = p.set
	out.RoundTrips = max(out.RoundTrips, p.pages)
	return out, nil
}

// readCluster is ReadCluster without the policies.
func (s *Store) readCluster(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	cref := config.ClusterLayer(req.Cluster)
	if err := checkRef(cref); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if req.Environment != "" {
		if err := checkRef(config.EnvLayer(req.Environment)); err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
	}
	switch {
	case req.Version != nil && req.Environment != "":
		return s.readPinned(ctx, req)
	case req.Version != nil:
		return s.readPinnedFindEnv(ctx, req)
	case req.Environment != "":
		return s.readLatest(ctx, req)
	default:
		return s.readLatestFindEnv(ctx, req)
	}
}

func (s *Store) notRegistered(cluster string) error {
	return newError(ErrNotFound, "cluster %s is not registered: its layer cluster/%s has never been published in table %s", cluster, cluster, s.table)
}

// clusterPinnedToZero is the error of a configVersion pinning the cluster's own layer to 0.
func (s *Store) clusterPinnedToZero(ctx context.Context, req ClusterRequest) error {
	cref := config.ClusterLayer(req.Cluster)
	heads, _, err := s.heads(ctx, []config.LayerRef{cref})
	if err != nil {
		return err
	}
	h, ok := heads[cref]
	if !ok {
		return s.notRegistered(req.Cluster)
	}
	return newError(ErrNotFound, "configVersion %s pins %s to version 0, but a cluster always renders its own layer: %s is at version %d; pin a published version of it, or use latest", req.Version, cref, cref, h.Version)
}

// checkZeroPins refuses a configVersion that pins a published global or env layer to 0 ("no
// layer"): the cluster would render without that layer — fewer objects, which Argo CD's
// auto-prune deletes. A 0 stays allowed for a layer whose head is at 0 (never published, or a
// rollout of its first version rolled back), and for a layer whose live rollout has stable
// version 0 (its first version is rolling out: the clusters it has not reached, or all of them
// once it halted, are served version 0). It reads only when a 0 is pinned (the heads and the
// rollouts of those layers, in one BatchGetItem), so the usual pinned read keeps its single
// round trip.
func (s *Store) checkZeroPins(ctx context.Context, v config.ConfigVersion, env string) (calls int, err error) {
	var refs []config.LayerRef
	if v.Global == 0 {
		refs = append(refs, config.GlobalLayer)
	}
	if v.Env == 0 {
		refs = append(refs, config.EnvLayer(env))
	}
	if len(refs) == 0 {
		return 0, nil
	}
	keys := make([]map[string]types.AttributeValue, 0, 2*len(refs))
	for _, ref := range refs {
		keys = append(keys, key(layerPK(ref), headSK), rolloutKey(ref), legacyRolloutKey(ref))
	}
	items, calls, err := s.batchGet(ctx, keys)
	if err != nil {
		return calls, fmt.Errorf("read the heads and rollouts of the layers pinned to version 0: %w", err)
	}
	heads := map[config.LayerRef]Head{}
	var rolloutItems []map[string]types.AttributeValue
	for _, item := range items {
		if _, ok := isRolloutItem(keyOf(item)); ok {
			rolloutItems = append(rolloutItems, item)
			continue
		}
		h, err := decodeHead(item)
		if err != nil {
			return calls, err
		}
		heads[h.Ref] = h
	}
	rs, _, _, err := decodeRollouts(rolloutItems)
	if err != nil {
		return calls, err
	}
	rollouts := map[config.LayerRef]rollout.Rollout{}
	for _, r := range rs {
		rollouts[r.Layer] = r
	}
	for _, ref := range refs {
		h, ok := heads[ref]
		if !ok || h.Version == 0 {
			continue
		}
		if r, ok := rollouts[ref]; ok && r.Stable == 0 && r.Live(h.Version, h.TraceID) {
			continue // the first version of the layer is rolling out: version 0 is served
		}
		return calls, newError(ErrNotFound, "configVersion %s pins %s to version 0 (no layer), but %s has published version %d: the cluster would render without it; pin a published version of every published layer, or use latest", v, ref, ref, h.Version)
	}
	return calls, nil
}

func (s *Store) readPinned(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	v := *req.Version
	if v.Cluster == 0 {
		return nil, s.clusterPinnedToZero(ctx, req)
	}
	pins := []Pin{
		{config.GlobalLayer, v.Global},
		{config.EnvLayer(req.Environment), v.Env},
		{config.ClusterLayer(req.Cluster), v.Cluster},
	}
	layers := make([]config.Layer, len(pins))
	pages := make([]int, len(pins)+1)
	errs := make([]error, len(pins)+1)
	// All run to the end: when the cluster names another environment, that is the error to
	// report, not the missing version of the requested environment.
	var g errgroup.Group
	for i := range pins {
		g.Go(func() error {
			layers[i], pages[i], errs[i] = s.readVersion(ctx, pins[i].Ref, pins[i].Version)
			return nil
		})
	}
	var current config.Cluster
	g.Go(func() error {
		current, pages[len(pins)], errs[len(pins)] = s.currentRecord(ctx, req.Cluster)
		return nil
	})
	_ = g.Wait() // each call's error is in errs
	out := &ClusterLayers{Layers: layers, Environment: req.Environment, Version: v, RoundTrips: maxOf(pages)}
	if errs[2] == nil {
		if err := s.fillRecord(out, req, nil); err != nil {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out.Current = current
	calls, err := s.checkZeroPins(ctx, v, req.Environment)
	if err != nil {
		return nil, err
	}
	out.RoundTrips += calls
	return out, nil
}

func (s *Store) readPinnedFindEnv(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	v := *req.Version
	if v.Cluster == 0 {
		return nil, s.clusterPinnedToZero(ctx, req)
	}
	var (
		first        []config.Layer
		pages, cpage int
		current      config.Cluster
	)
	err := s.inParallel(ctx, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			first, pages, err = s.readVersions(ctx, []Pin{
				{config.GlobalLayer, v.Global},
				{config.ClusterLayer(req.Cluster), v.Cluster},
			})
		} else {
			current, cpage, err = s.currentRecord(ctx, req.Cluster)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	pages = max(pages, cpage)
	rec := recordOf(first[1].Entries)
	if rec == nil || rec.Environment == "" {
		return nil, newError(config.ErrNoClusterRecord, "cluster/%s version %d holds no cluster record naming the environment: pass the environment, or publish a cluster record", req.Cluster, v.Cluster)
	}
	if err := checkRef(config.EnvLayer(rec.Environment)); err != nil {
		return nil, fmt.Errorf("cluster/%s version %d: environment: %w", req.Cluster, v.Cluster, err)
	}
	env, envPages, err := s.readVersion(ctx, config.EnvLayer(rec.Environment), v.Env)
	if err != nil {
		return nil, err
	}
	out := &ClusterLayers{
		Layers:      []config.Layer{first[0], env, first[1]},
		Environment: rec.Environment,
		Version:     v,
		RoundTrips:  pages + envPages,
		Current:     current,
	}
	if err := s.fillRecord(out, req, nil); err != nil {
		return nil, err
	}
	calls, err := s.checkZeroPins(ctx, v, rec.Environment)
	if err != nil {
		return nil, err
	}
	out.RoundTrips += calls
	return out, nil
}

func (s *Store) readLatest(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	refs := []config.LayerRef{config.GlobalLayer, config.EnvLayer(req.Environment), config.ClusterLayer(req.Cluster)}
	heads, calls, err := s.heads(ctx, refs)
	if err != nil {
		return nil, err
	}
	ch, ok := heads[refs[2]]
	if !ok {
		return nil, s.notRegistered(req.Cluster)
	}
	if ch.Cluster != nil && ch.Cluster.Environment != "" && ch.Cluster.Environment != req.Environment {
		return nil, newError(ErrWrongEnvironment, "cluster %s belongs to environment %s, not %s", req.Cluster, ch.Cluster.Environment, req.Environment)
	}
	v := config.ConfigVersion{Global: heads[refs[0]].Version, Env: heads[refs[1]].Version, Cluster: ch.Version}
	layers, pages, err := s.readVersions(ctx, []Pin{{refs[0], v.Global}, {refs[1], v.Env}, {refs[2], v.Cluster}})
	if err != nil {
		return nil, err
	}
	out := &ClusterLayers{Layers: layers, Environment: req.Environment, Version: v, RoundTrips: calls + pages}
	if err := s.fillRecord(out, req, ch.Cluster); err != nil {
		return nil, err
	}
	out.Current = out.Cluster // the head's version is the one read
	return out, nil
}

func (s *Store) readLatestFindEnv(ctx context.Context, req ClusterRequest) (*ClusterLayers, error) {
	gref, cref := config.GlobalLayer, config.ClusterLayer(req.Cluster)
	heads, calls, err := s.heads(ctx, []config.LayerRef{gref, cref})
	if err != nil {
		return nil, err
	}
	ch, ok := heads[cref]
	if !ok {
		return nil, s.notRegistered(req.Cluster)
	}
	if ch.Cluster == nil || ch.Cluster.Environment == "" {
		return nil, newError(config.ErrNoClusterRecord, "cluster/%s (version %d) holds no cluster record naming the environment: publish one (cluster: {environment: ..., region: ...})", req.Cluster, ch.Version)
	}
	eref := config.EnvLayer(ch.Cluster.Environment)
	if err := checkRef(eref); err != nil {
		return nil, fmt.Errorf("cluster/%s: environment: %w", req.Cluster, err)
	}
	// The environment's head and then its version, alongside the other two versions.
	var (
		layers = make([]config.Layer, 3)
		pages  = make([]int, 3)
		envVer int
	)
	err = s.inParallel(ctx, 3, func(ctx context.Context, i int) error {
		var err error
		switch i {
		case 0:
			layers[0], pages[0], err = s.readVersion(ctx, gref, heads[gref].Version)
		case 1:
			var eh map[config.LayerRef]Head
			var n int
			eh, n, err = s.heads(ctx, []config.LayerRef{eref})
			pages[1] = n
			if err != nil {
				return err
			}
			envVer = eh[eref].Version
			var p int
			layers[1], p, err = s.readVersion(ctx, eref, envVer)
			pages[1] += p
		case 2:
			layers[2], pages[2], err = s.readVersion(ctx, cref, ch.Version)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &ClusterLayers{
		Layers:      layers,
		Environment: ch.Cluster.Environment,
		Version:     config.ConfigVersion{Global: heads[gref].Version, Env: envVer, Cluster: ch.Version},
		RoundTrips:  calls + maxOf(pages),
	}
	if err := s.fillRecord(out, req, ch.Cluster); err != nil {
		return nil, err
	}
	out.Current = out.Cluster // the head's version is the one read
	return out, nil
}

// currentRecord reads the cluster record of the cluster layer's head (one BatchGetItem of
// one item) and the number of calls it took. A head without a record (written before heads
// carried one) is a record that allows nothing but names the cluster.
func (s *Store) currentRecord(ctx context.Context, cluster string) (config.Cluster, int, error) {
	cref := config.ClusterLayer(cluster)
	heads, calls, err := s.heads(ctx, []config.LayerRef{cref})
	if err != nil {
		return config.Cluster{}, calls, err
	}
	h, ok := heads[cref]
	if !ok {
		return config.Cluster{}, calls, s.notRegistered(cluster)
	}
	c := config.Cluster{Name: cluster}
	if h.Cluster != nil {
		c = *h.Cluster
	}
	return c, calls, nil
}

// fillRecord sets the cluster record of a generation read from the cluster layer's entries —
// the version read, which its digest protects — never from the head: the head only led the
// read to the environment (fromHead, when the read learnt it there). A head whose record
// names another environment than its version's (a head written around the store) is refused,
// as is a record naming another environment than the one read.
func (s *Store) fillRecord(out *ClusterLayers, req ClusterRequest, fromHead *config.Cluster) error {
	var c config.Cluster
	if rec := recordOf(out.Layers[2].Entries); rec != nil {
		c = *rec.cluster()
	}
	if c.Name == "" {
		c.Name = req.Cluster
	}
	if c.Environment == "" {
		c.Environment = out.Environment
	}
	if fromHead != nil && fromHead.Environment != "" && fromHead.Environment != c.Environment {
		pk := layerPK(config.ClusterLayer(req.Cluster))
		return invalidItem(pk, headSK, "the head names environment %s, its version %d's cluster record names %s: the head was written around dynamo-cmp; roll the layer back or publish it again", fromHead.Environment, out.Version.Cluster, c.Environment)
	}
	if c.Environment != out.Environment {
		return newError(ErrWrongEnvironment, "cluster %s version %d belongs to environment %s, not %s", req.Cluster, out.Version.Cluster, c.Environment, out.Environment)
	}
	out.Cluster = c
	return nil
}

// Versions lists the versions of a layer, newest first, published or not (a version whose
// publish was interrupted stays listed with Published false). It finds the highest version
// number with one query and reads the metadata items with BatchGetItem; numbers never
// claimed are gaps.
func (s *Store) Versions(ctx context.Context, ref config.LayerRef) ([]VersionInfo, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	top, err := s.highestVersion(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("list versions of layer %s: %w", ref, err)
	}
	pk := layerPK(ref)
	keys := make([]map[string]types.AttributeValue, 0, top)
	for v := top; v >= 1; v-- {
		keys = append(keys, key(pk, versionSK(v)))
	}
	chunks := (len(keys) + maxBatchGet - 1) / maxBatchGet
	results := make([][]map[string]types.AttributeValue, chunks)
	err = s.inParallel(ctx, chunks, func(ctx context.Context, i int) error {
		var err error
		results[i], _, err = s.batchGet(ctx, keys[i*maxBatchGet:min((i+1)*maxBatchGet, len(keys))])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions of layer %s: %w", ref, err)
	}
	var out []VersionInfo
	for _, items := range results {
		for _, item := range items {
			it, err := decodeVersion(item)
			if err != nil {
				return nil, err
			}
			info, err := it.info(ref)
			if err != nil {
				return nil, err
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}

// highestVersion returns the highest version number claimed in a layer (0 if none): the
// last item under the "v#" prefix, found by one descending query of one item.
func (s *Store) highestVersion(ctx context.Context, ref config.LayerRef) (int, error) {
	in := prefixQuery(layerPK(ref), versionPrefix)
	in.ScanIndexForward = aws.Bool(false)
	in.Limit = aws.Int32(1)
	in.ProjectionExpression = aws.String("pk, sk")
	out, err := s.query(ctx, in)
	if err != nil {
		return 0, err
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	pk, sk := keyOf(out.Items[0])
	var v int
	if len(sk) < len(versionSK(0)) {
		return 0, invalidItem(pk, sk, "malformed version sort key")
	}
	if _, err := fmt.Sscanf(sk[len(versionPrefix):len(versionSK(0))], "%d", &v); err != nil {
		return 0, invalidItem(pk, sk, "malformed version sort key")
	}
	return v, nil
}

// Audit returns the publish and rollback records of a layer, newest first; limit > 0 keeps
// only the newest limit records.
func (s *Store) Audit(ctx context.Context, ref config.LayerRef, limit int) ([]AuditRecord, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	in := prefixQuery(layerPK(ref), auditPrefix)
	in.ScanIndexForward = aws.Bool(false)
	var out []AuditRecord
	for {
		if limit > 0 {
			in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		}
		page, err := s.query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read the audit of layer %s: %w", ref, err)
		}
		for _, item := range page.Items {
			r, err := decodeAudit(ref, item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if len(page.LastEvaluatedKey) == 0 || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
