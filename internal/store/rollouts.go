package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Items of progressive rollouts (see doc.go and layout.go):
//   - the rollout of a layer: pk "rollout", sk "<layer pk>" (releases before the current
//     layout: pk "registry", sk "rollout#<layer pk>");
//   - a rollout strategy: pk "strategy", sk "<name>";
//   - what serve last saw of a cluster's Applications: pk "observed#<name>", sk "observed".
const (
	strategyPK = "strategy"
	observedSK = "observed"
)

// rolloutItem is a rollout: the key attributes the conditions use, and the rollout as JSON.
type rolloutItem struct {
	PK    string `dynamodbav:"pk"`
	SK    string `dynamodbav:"sk"`
	Layer string `dynamodbav:"layer"`
	ID    string `dynamodbav:"id"`
	Rev   int    `dynamodbav:"rev"`
	State string `dynamodbav:"state"`
	Body  string `dynamodbav:"rollout"`
	// Caller is the AWS principal that wrote this revision (empty when none was known).
	Caller string `dynamodbav:"callerArn,omitempty"`
}

func rolloutAV(r rollout.Rollout) (map[string]types.AttributeValue, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return marshalItem(rolloutItem{PK: rolloutPK, SK: layerPK(r.Layer), Layer: r.Layer.String(), ID: r.ID, Rev: r.Rev, State: string(r.State), Body: string(body)})
}

func decodeRollout(item map[string]types.AttributeValue) (rollout.Rollout, error) {
	pk, sk := keyOf(item)
	var it rolloutItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return rollout.Rollout{}, invalidItem(pk, sk, "not a rollout item: %s", avError(err))
	}
	var r rollout.Rollout
	if err := json.Unmarshal([]byte(it.Body), &r); err != nil {
		return rollout.Rollout{}, invalidItem(pk, sk, "rollout: not a rollout (%s)", jsonErrorKind(err))
	}
	if len(r.Waves) == 0 {
		return rollout.Rollout{}, invalidItem(pk, sk, "rollout: no waves")
	}
	r.Rev = it.Rev
	return r, nil
}

func jsonErrorKind(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type", typ.Field)
	}
	return "invalid"
}

// RegistryState is everything the generator serves from: the layer heads and the rollouts.
type RegistryState struct {
	Heads    []Head
	Rollouts []rollout.Rollout
	// RolloutCallers is the AWS principal that wrote each rollout's current revision (its
	// item's callerArn); a layer is absent when none was recorded.
	RolloutCallers map[config.LayerRef]string
	// Legacy lists the items found at the key layout of an earlier release (rollouts and the
	// change counter in the registry partition): they are read, and `dynamo-cmp table
	// upgrade` moves them. Empty once the table is upgraded.
	Legacy []ItemKey
}

// RegistryState reads every layer head, ordered global, env layers, cluster layers, and the
// rollouts: two strongly consistent queries (all pages) in parallel, of the registry and of
// the rollout partition. A rollout still at the registry key of an earlier release is read
// too (the current key wins) and listed in Legacy.
func (s *Store) RegistryState(ctx context.Context) (RegistryState, error) {
	var registry, rollouts []map[string]types.AttributeValue
	err := s.inParallel(ctx, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			registry, _, err = s.queryAll(ctx, partitionQuery(registryPK))
			if err != nil {
				return fmt.Errorf("read the registry: %w", err)
			}
			return nil
		}
		rollouts, _, err = s.queryAll(ctx, partitionQuery(rolloutPK))
		if err != nil {
			return fmt.Errorf("read the rollouts: %w", err)
		}
		return nil
	})
	if err != nil {
		return RegistryState{}, err
	}
	var out RegistryState
	var rolloutItems []map[string]types.AttributeValue
	for _, item := range registry {
		pk, sk := keyOf(item)
		switch {
		case strings.HasPrefix(sk, registryLayer):
			h, err := decodeHead(item)
			if err != nil {
				return RegistryState{}, err
			}
			out.Heads = append(out.Heads, h)
		case strings.HasPrefix(sk, legacyRolloutPrefix):
			rolloutItems = append(rolloutItems, item)
		case sk == changeSeqSK:
			out.Legacy = append(out.Legacy, ItemKey{PK: pk, SK: sk})
		}
	}
	rs, callers, legacy, err := decodeRollouts(append(rolloutItems, rollouts...))
	if err != nil {
		return RegistryState{}, err
	}
	out.Rollouts, out.RolloutCallers = rs, callers
	out.Legacy = append(out.Legacy, legacy...)
	sort.Slice(out.Legacy, func(i, j int) bool { return out.Legacy[i].String() < out.Legacy[j].String() })
	sortHeads(out.Heads)
	return out, nil
}

// decodeRollouts decodes rollout items read at the current and the legacy keys: one rollout a
// layer, the current key's when both hold one; legacy lists the items read at the legacy key.
func decodeRollouts(items []map[string]types.AttributeValue) (rs []rollout.Rollout, callers map[config.LayerRef]string, legacy []ItemKey, err error) {
	type found struct {
		r      rollout.Rollout
		caller string
		legacy bool
	}
	byLayer := map[config.LayerRef]found{}
	var order []config.LayerRef
	for _, item := range items {
		pk, sk := keyOf(item)
		isLegacy, ok := isRolloutItem(pk, sk)
		if !ok {
			continue
		}
		r, err := decodeRollout(item)
		if err != nil {
			return nil, nil, nil, err
		}
		if isLegacy {
			legacy = append(legacy, ItemKey{PK: pk, SK: sk})
		}
		prev, seen := byLayer[r.Layer]
		if seen && !prev.legacy {
			continue // the current key wins
		}
		if !seen {
			order = append(order, r.Layer)
		}
		byLayer[r.Layer] = found{r: r, caller: stringAttr(item, attrCaller), legacy: isLegacy}
	}
	sort.Slice(order, func(i, j int) bool { return layerPK(order[i]) < layerPK(order[j]) })
	for _, ref := range order {
		f := byLayer[ref]
		rs = append(rs, f.r)
		if f.caller != "" {
			if callers == nil {
				callers = map[config.LayerRef]string{}
			}
			callers[ref] = f.caller
		}
	}
	return rs, callers, legacy, nil
}

// partitionQuery reads a whole partition, strongly consistent.
func partitionQuery(pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	}
}

// Rollouts reads every rollout item (two strongly consistent queries in parallel: the rollout
// partition, and the rollouts an earlier release kept in the registry).
func (s *Store) Rollouts(ctx context.Context) ([]rollout.Rollout, error) {
	var current, old []map[string]types.AttributeValue
	err := s.inParallel(ctx, 2, func(ctx context.Context, i int) error {
		var err error
		if i == 0 {
			current, _, err = s.queryAll(ctx, partitionQuery(rolloutPK))
		} else {
			old, _, err = s.queryAll(ctx, prefixQuery(registryPK, legacyRolloutPrefix))
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the rollouts: %w", err)
	}
	rs, _, _, err := decodeRollouts(append(old, current...))
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []rollout.Rollout{}
	}
	return rs, nil
}

// RolloutMovedError is a rollout step refused because the rollout changed since it was read
// (another replica or an operator took a step, or a publish started a new rollout).
type RolloutMovedError struct {
	Layer config.LayerRef
	Rev   int
}

func (e *RolloutMovedError) Error() string {
	return fmt.Sprintf("the rollout of %s changed since it was read (revision %d); nothing was written", e.Layer, e.Rev)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *RolloutMovedError) Is(target error) bool { return target == ErrConflict }

// rolloutMoved is the error of a rollout step whose condition failed: a *RolloutMovedError,
// unless the rollout is still at the key of an earlier release and not at the current one —
// then no step can be written until `dynamo-cmp table upgrade` moves it (ErrOldLayout).
func (s *Store) rolloutMoved(ctx context.Context, ref config.LayerRef, rev int) error {
	items, _, err := s.batchGet(ctx, []map[string]types.AttributeValue{rolloutKey(ref), legacyRolloutKey(ref)})
	if err == nil && len(items) == 1 {
		if pk, sk := keyOf(items[0]); pk == registryPK {
			return newError(ErrOldLayout, "the rollout of %s is stored at the key of an earlier release (pk %q, sk %q), where this release reads it but does not write it: run `dynamo-cmp table upgrade` (with the operators' role) to move it; nothing was written", ref, pk, sk)
		}
	}
	return &RolloutMovedError{Layer: ref, Rev: rev}
}

// RolloutUpdate says what else a rollout step writes.
type RolloutUpdate struct {
	// Served: the step changes what some cluster is served, so the registry's change
	// counter moves (the generator and the watchers read the registry again).
	Served bool
	// Audit, when set, is recorded in the layer's history in the same transaction (operator
	// actions: pause, resume, abort, promote).
	Audit *AuditRecord
}

// UpdateRollout writes r as the next revision of the rollout it was read as (r.Rev): only if
// the stored rollout is still that one at that revision, else a *RolloutMovedError and nothing
// is written. It returns the rollout as written.
func (s *Store) UpdateRollout(ctx context.Context, r rollout.Rollout, u RolloutUpdate) (rollout.Rollout, error) {
	if r.Layer.Scope == config.ScopeCluster {
		return r, fmt.Errorf("rollout of %s: cluster layers are not rolled out in waves", r.Layer)
	}
	caller, err := s.writer(ctx, "write the rollout of "+r.Layer.String())
	if err != nil {
		return r, err
	}
	read := r.Rev
	r = r.Clone()
	r.Rev = read + 1
	av, err := rolloutAV(r)
	if err != nil {
		return r, err
	}
	if caller != "" {
		av[attrCaller] = &types.AttributeValueMemberS{Value: caller}
	}
	put := &types.Put{
		TableName:           aws.String(s.table),
		Item:                av,
		ConditionExpression: aws.String("id = :id AND rev = :rev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id":  &types.AttributeValueMemberS{Value: r.ID},
			":rev": &types.AttributeValueMemberN{Value: strconv.Itoa(read)},
		},
	}
	if !u.Served && u.Audit == nil {
		_, err = s.putItemRaw(ctx, &dynamodb.PutItemInput{Item: put.Item, ConditionExpression: put.ConditionExpression,
			ExpressionAttributeValues: put.ExpressionAttributeValues})
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			return r, s.rolloutMoved(ctx, r.Layer, read)
		case err != nil:
			return r, fmt.Errorf("write the rollout of %s: %w", r.Layer, s.mapError("PutItem", err))
		}
		return r, nil
	}
	tx := []types.TransactWriteItem{{Put: put}}
	if u.Served {
		tx = append(tx, types.TransactWriteItem{Update: s.bumpChangeSeq(r.UpdatedAt)})
	}
	if a := u.Audit; a != nil {
		auditAV, err := marshalItem(auditItem{PK: layerPK(r.Layer), SK: auditSK(a.At, a.TraceID+"-"+strconv.Itoa(r.Rev)), Layer: r.Layer.String(),
			Action: a.Action, From: a.From, To: a.To, At: a.At.UTC().Format(timeFormat), Actor: a.Actor, Caller: caller, Message: a.Message, TraceID: a.TraceID})
		if err != nil {
			return r, err
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: auditAV}})
	}
	_, err = s.transactWriteItemsRaw(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	var tce *types.TransactionCanceledException
	switch {
	case errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed":
		return r, s.rolloutMoved(ctx, r.Layer, read)
	case err != nil:
		return r, fmt.Errorf("write the rollout of %s: %w", r.Layer, s.mapError("TransactWriteItems", err))
	}
	return r, nil
}

// strategyItem is a rollout strategy (pk "strategy", sk its name).
type strategyItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Body   string `dynamodbav:"strategy"`
	At     string `dynamodbav:"at"`
	Actor  string `dynamodbav:"actor,omitempty"`
	Caller string `dynamodbav:"callerArn,omitempty"`
}

// StoredStrategy is a strategy and who stored it when.
type StoredStrategy struct {
	rollout.Strategy
	At        time.Time
	Actor     string
	CallerArn string
}

// PutStrategy stores (or replaces) a strategy; it must be valid.
func (s *Store) PutStrategy(ctx context.Context, st rollout.Strategy, actor string) error {
	if err := st.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	caller, err := s.writer(ctx, "store strategy "+st.Name)
	if err != nil {
		return err
	}
	av, err := marshalItem(strategyItem{PK: strategyPK, SK: st.Name, Body: string(body), At: s.now().UTC().Format(timeFormat), Actor: actor, Caller: caller})
	if err != nil {
		return err
	}
	if _, err := s.putItemRaw(ctx, &dynamodb.PutItemInput{Item: av}); err != nil {
		return fmt.Errorf("store strategy %s: %w", st.Name, s.mapError("PutItem", err))
	}
	return nil
}

// Strategies reads every strategy, by name.
func (s *Store) Strategies(ctx context.Context) ([]StoredStrategy, error) {
	items, _, err := s.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: strategyPK}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read the rollout strategies: %w", err)
	}
	out := make([]StoredStrategy, 0, len(items))
	for _, item := range items {
		pk, sk := keyOf(item)
		var it strategyItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, invalidItem(pk, sk, "not a strategy item: %s", avError(err))
		}
		st, err := rollout.ParseStrategy([]byte(it.Body))
		if err != nil {
			return nil, invalidItem(pk, sk, "%v", err)
		}
		at, err := parseAt(pk, sk, it.At)
		if err != nil {
			return nil, err
		}
		out = append(out, StoredStrategy{Strategy: st, At: at, Actor: it.Actor, CallerArn: it.Caller})
	}
	return out, nil
}

// DeleteStrategy removes a strategy; false when there was none of that name.
func (s *Store) DeleteStrategy(ctx context.Context, name string) (bool, error) {
	out, err := s.getItem(ctx, &dynamodb.GetItemInput{Key: key(strategyPK, name), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("delete strategy %s: %w", name, err)
	}
	if out.Item == nil {
		return false, nil
	}
	if err := s.batchWrite(ctx, []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: key(strategyPK, name)}}}); err != nil {
		return false, fmt.Errorf("delete strategy %s: %w", name, s.mapError("BatchWriteItem", err))
	}
	return true, nil
}

// Observation is what serve last saw of a cluster's Argo CD Applications.
type Observation struct {
	Cluster string
	// Applications is how many Applications of the cluster use the plugin.
	Applications int
	// Sync and Health sum them up: Synced/Healthy only when every one is.
	Sync, Health string
	// SyncedVersion is the configVersion every Application was last Synced and Healthy on
	// ("" when they are not, or disagree).
	SyncedVersion string
	At            time.Time
	Replica       string
}

type observedItem struct {
	PK            string `dynamodbav:"pk"`
	SK            string `dynamodbav:"sk"`
	Applications  int    `dynamodbav:"applications"`
	Sync          string `dynamodbav:"sync"`
	Health        string `dynamodbav:"health"`
	SyncedVersion string `dynamodbav:"syncedVersion,omitempty"`
	At            string `dynamodbav:"at"`
	Replica       string `dynamodbav:"replica,omitempty"`
}

// PutObservations records observations (one PutItem each: they change rarely).
func (s *Store) PutObservations(ctx context.Context, obs []Observation) error {
	for _, o := range obs {
		ref := config.ClusterLayer(o.Cluster)
		if err := checkRef(ref); err != nil {
			return fmt.Errorf("observation: %w", err)
		}
		av, err := marshalItem(observedItem{PK: servePK(observedPrefix, o.Cluster), SK: observedSK, Applications: o.Applications, Sync: o.Sync, Health: o.Health,
			SyncedVersion: o.SyncedVersion, At: o.At.UTC().Format(timeFormat), Replica: o.Replica})
		if err != nil {
			return err
		}
		if _, err := s.putItemRaw(ctx, &dynamodb.PutItemInput{Item: av}); err != nil {
			return fmt.Errorf("record what the Applications of cluster %s report: %w", o.Cluster, s.mapError("PutItem", err))
		}
	}
	return nil
}

// Observations reads the observations of clusters; clusters without one are absent. One still
// at the key of an earlier release is read too (the newer one wins).
func (s *Store) Observations(ctx context.Context, clusters ...string) (map[string]Observation, error) {
	items, err := s.clusterItems(ctx, observedPrefix, observedSK, "what the Applications reported", clusters)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Observation, len(items))
	for name, item := range items {
		pk, sk := keyOf(item)
		var it observedItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, invalidItem(pk, sk, "not an observation item: %s", avError(err))
		}
		at, err := parseAt(pk, sk, it.At)
		if err != nil {
			return nil, err
		}
		out[name] = Observation{Cluster: name, Applications: it.Applications, Sync: it.Sync, Health: it.Health,
			SyncedVersion: it.SyncedVersion, At: at, Replica: it.Replica}
	}
	return out, nil
}

// clusterItems reads serve's item with sort key sk of each cluster (partition prefix +
// cluster name), and the item an earlier release kept in the cluster layer's partition under
// the same sort key, in strongly consistent BatchGetItems; by cluster name, the one observed
// later (its "at") when both exist. what names them in errors.
func (s *Store) clusterItems(ctx context.Context, prefix, sk, what string, clusters []string) (map[string]map[string]types.AttributeValue, error) {
	keys := make([]map[string]types.AttributeValue, 0, 2*len(clusters))
	seen := map[string]bool{}
	for _, c := range clusters {
		ref := config.ClusterLayer(c)
		if err := checkRef(ref); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		if !seen[c] {
			seen[c] = true
			keys = append(keys, key(servePK(prefix, c), sk), key(layerPK(ref), sk))
		}
	}
	out := make(map[string]map[string]types.AttributeValue, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	items, _, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	for _, item := range items {
		pk, isk := keyOf(item)
		name, _, ok := clusterOfServePK(prefix, pk)
		if !ok || checkRef(config.ClusterLayer(name)) != nil {
			return nil, invalidItem(pk, isk, "does not name a cluster")
		}
		if prev, ok := out[name]; ok && stringAttr(prev, "at") >= stringAttr(item, "at") {
			continue
		}
		out[name] = item
	}
	return out, nil
}
