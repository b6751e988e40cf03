package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// maxBatchWrite is DynamoDB's limit of items per BatchWriteItem.
const maxBatchWrite = 25

// maxClaimAttempts bounds the conditional puts spent looking for a free version number
// before the store looks the highest one up.
const maxClaimAttempts = 3

// maxTransactionRetries bounds the retries of a transaction that met a concurrent one.
const maxTransactionRetries = 5

// Publish writes a new version of a layer and moves the layer's head to it, in three steps:
//
//  1. claim the next free version number: a conditional PutItem of the version's metadata
//     item (published=false), starting at max(head, Base)+1 and skipping numbers already
//     claimed by interrupted publishes, so version numbers may have gaps;
//  2. write the entries with BatchWriteItem, 25 items a call, several calls in parallel —
//     the version is exclusively ours, so no condition is needed and no size limit applies;
//  3. one TransactWriteItems: the head moves (on condition that it still points at Base),
//     the registry mirror and the audit record are written and the metadata item is marked
//     published.
//
// Readers follow the head, so until step 3 nothing is visible. If the head moved since Base,
// Publish returns a *ConflictError (before writing anything when it can tell early) and
// removes what it wrote; the caller re-reads the layer and decides — nothing is rebased
// automatically. A publish interrupted between 1 and 3 leaves an unpublished version that
// readers refuse and later publishes skip.
func (s *Store) Publish(ctx context.Context, in PublishInput) (Head, error) {
	if err := checkRef(in.Ref); err != nil {
		return Head{}, fmt.Errorf("publish: %w", err)
	}
	if in.Base < 0 {
		return Head{}, fmt.Errorf("publish %s: base version %d is not a version number", in.Ref, in.Base)
	}
	entries, items, err := entryItems(in.Ref, in.Entries)
	if err != nil {
		return Head{}, fmt.Errorf("publish %s: %w", in.Ref, err)
	}
	caller, err := s.writer(ctx, "publish "+in.Ref.String())
	if err != nil {
		return Head{}, err
	}
	pk := layerPK(in.Ref)
	var record *clusterRecord
	if in.Ref.Scope == config.ScopeCluster {
		record = recordOf(entries)
	}
	at := s.now().UTC()
	head := Head{
		Ref:       in.Ref,
		Previous:  in.Base,
		At:        at,
		Actor:     in.Actor,
		CallerArn: caller,
		Message:   in.Message,
		TraceID:   in.TraceID,
		Digest:    config.Digest([]config.Layer{{Ref: in.Ref, Entries: entries}}),
		Entries:   len(entries),
		Action:    ActionPublish,
		Cluster:   record.cluster(),
	}

	// Fail early, before writing anything, if the head already moved.
	current, err := s.headVersion(ctx, in.Ref)
	if err != nil {
		return Head{}, fmt.Errorf("publish %s: %w", in.Ref, err)
	}
	if current != in.Base {
		return Head{}, &ConflictError{Ref: in.Ref, Expected: in.Base, Actual: current}
	}

	meta := versionItem{
		PK: pk, Layer: in.Ref.String(), Based: in.Base, At: at.Format(timeFormat),
		Actor: in.Actor, Caller: caller, Message: in.Message, TraceID: in.TraceID, Digest: head.Digest,
		Entries: len(entries), Published: false, Cluster: record,
	}
	version, err := s.claim(ctx, in.Ref, meta, max(current, in.Base)+1)
	if err != nil {
		return Head{}, fmt.Errorf("publish %s: %w", in.Ref, err)
	}
	head.Version = version
	for i, e := range entries {
		items[i][attrSK] = &types.AttributeValueMemberS{Value: entrySK(version, e.Kind, e.Key)}
	}
	if err := s.writeItems(ctx, items); err != nil {
		return Head{}, fmt.Errorf("publish %s version %d: write entries: %w", in.Ref, version, s.mapError("BatchWriteItem", err))
	}
	if hook := s.testHooks.afterEntries; hook != nil {
		if err := hook(version); err != nil {
			return Head{}, err
		}
	}

	head.At = s.now().UTC() // the moment the version becomes visible
	var extra []types.TransactWriteItem
	if in.Rollout != nil {
		r := in.Rollout.Clone()
		r.Layer, r.Target = in.Ref, version
		av, err := rolloutAV(r)
		if err != nil {
			return Head{}, fmt.Errorf("publish %s: rollout: %w", in.Ref, err)
		}
		if caller != "" {
			av[attrCaller] = &types.AttributeValueMemberS{Value: caller}
		}
		extra = append(extra, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av}})
	}
	err = s.moveHead(ctx, head, in.Base, append(extra, types.TransactWriteItem{
		Update: &types.Update{
			TableName:        aws.String(s.table),
			Key:              key(pk, versionSK(version)),
			UpdateExpression: aws.String("SET published = :true"),
			// An orphan removal (RemoveOrphan) marks the item first: then this version
			// must never become visible.
			ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(" + attrRemoving + ")"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":true": &types.AttributeValueMemberBOOL{Value: true},
			},
		},
	}))
	if err != nil {
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			// Nothing became visible: remove the version we wrote, best effort (what is
			// left behind is an unpublished version, as after a crash).
			s.discard(ctx, pk, version, items)
			return Head{}, err
		}
		return Head{}, fmt.Errorf("publish %s version %d: %w", in.Ref, version, err)
	}
	return head, nil
}

// timeFormat is how times are written in items.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// headVersion returns the version a layer's head points at (0: never published).
func (s *Store) headVersion(ctx context.Context, ref config.LayerRef) (int, error) {
	out, err := s.getItem(ctx, &dynamodb.GetItemInput{
		Key:                  key(layerPK(ref), headSK),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("version"),
	})
	if err != nil {
		return 0, err
	}
	return versionAttr(out.Item), nil
}

// versionAttr reads the number attribute "version" of an item (0 when absent).
func versionAttr(item map[string]types.AttributeValue) int {
	n, ok := item["version"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.Atoi(n.Value)
	return v
}

// claim reserves the first free version number from start by a conditional put of the
// version's metadata item. Numbers taken by concurrent or interrupted publishes are
// skipped; after a few misses the highest claimed number is looked up instead.
func (s *Store) claim(ctx context.Context, ref config.LayerRef, meta versionItem, start int) (int, error) {
	v := start
	for attempt := 0; ; attempt++ {
		if attempt == maxClaimAttempts {
			top, err := s.highestVersion(ctx, ref)
			if err != nil {
				return 0, fmt.Errorf("claim a version number: %w", err)
			}
			v = max(v, top+1)
		}
		if attempt > 100 {
			return 0, newError(ErrConflict, "claim a version number: every number from %d to %d was taken concurrently", start, v)
		}
		meta.Version = v
		meta.SK = versionSK(v)
		item, err := marshalItem(meta)
		if err != nil {
			return 0, err
		}
		_, err = s.putItemRaw(ctx, &dynamodb.PutItemInput{
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		if err == nil {
			return v, nil
		}
		var taken *types.ConditionalCheckFailedException
		if !errors.As(err, &taken) {
			return 0, fmt.Errorf("claim version %d: %w", v, s.mapError("PutItem", err))
		}
		v++
	}
}

// writeItems puts items with BatchWriteItem, 25 a call, s.parallel calls at once, retrying
// unprocessed items with backoff.
func (s *Store) writeItems(ctx context.Context, items []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(items))
	for i, item := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	return s.batchWrite(ctx, reqs)
}

// batchWrite runs write requests in chunks of 25, in parallel.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	chunks := (len(reqs) + maxBatchWrite - 1) / maxBatchWrite
	return s.inParallel(ctx, chunks, func(ctx context.Context, i int) error {
		pending := reqs[i*maxBatchWrite : min((i+1)*maxBatchWrite, len(reqs))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt > maxUnprocessedRetries {
					return newError(ErrThrottled, "dynamodb BatchWriteItem on table %s: items still unprocessed after %d retries", s.table, maxUnprocessedRetries)
				}
				if err := sleep(ctx, s.backoff(attempt)); err != nil {
					return s.mapError("BatchWriteItem", err)
				}
			}
			out, err := s.batchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: pending},
			})
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems[s.table]
		}
		return nil
	})
}

// discard deletes the items of a version that lost a conflict, and then its metadata item,
// freeing the number. Failures are ignored: an unpublished version is harmless.
func (s *Store) discard(ctx context.Context, pk string, version int, items []map[string]types.AttributeValue) {
	reqs := make([]types.WriteRequest, 0, len(items))
	for _, item := range items {
		_, sk := keyOf(item)
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key(pk, sk)}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return
	}
	_ = s.batchWrite(ctx, []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: key(pk, versionSK(version))}}})
}

// moveHead runs the transaction that makes a version current: head (conditional on the
// expected version), registry mirror, audit record, plus extra items. The audit record's sort
// key ends in the caller's trace id, or in a random id when the caller passed none (then the
// head's and the audit record's trace id stay empty: the random id only keeps two audit records
// of the same instant apart).
func (s *Store) moveHead(ctx context.Context, head Head, expected int, extra []types.TransactWriteItem) error {
	pk := layerPK(head.Ref)
	auditID := head.TraceID
	if auditID == "" {
		auditID = traceid.New()
	}
	hi := headItemOf(head)
	headAV, err := marshalItem(hi)
	if err != nil {
		return err
	}
	hi.PK, hi.SK = registryPK, registrySK(head.Ref)
	registryAV, err := marshalItem(hi)
	if err != nil {
		return err
	}
	auditAV, err := marshalItem(auditItem{
		PK: pk, SK: auditSK(head.At, auditID), Layer: head.Ref.String(), Action: head.Action,
		From: expected, To: head.Version, At: head.At.Format(timeFormat),
		Actor: head.Actor, Caller: head.CallerArn, Message: head.Message, TraceID: head.TraceID,
	})
	if err != nil {
		return err
	}
	put := &types.Put{
		TableName:                           aws.String(s.table),
		Item:                                headAV,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if expected == 0 {
		// Never published, or rolled back to version 0 (no entries).
		put.ConditionExpression = aws.String("attribute_not_exists(pk) OR version = :expected")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{
			":expected": &types.AttributeValueMemberN{Value: "0"},
		}
	} else {
		put.ConditionExpression = aws.String("version = :expected")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{
			":expected": &types.AttributeValueMemberN{Value: strconv.Itoa(expected)},
		}
	}
	txItems := append([]types.TransactWriteItem{
		{Put: put},
		{Put: &types.Put{TableName: aws.String(s.table), Item: registryAV}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: auditAV}},
		{Update: s.bumpChangeSeq(head.At)},
	}, extra...)
	for attempt := 0; ; attempt++ {
		// The SDK's own retries of this call reuse the token, and DynamoDB treats a repeated
		// token as the same transaction, so a retry after a lost answer cannot report the
		// store's own head move as a conflict. A canceled transaction changed nothing, so
		// an explicit retry below is a new transaction with a new token.
		_, err := s.transactWriteItemsRaw(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems:      txItems,
			ClientRequestToken: aws.String(traceid.New() + traceid.New()),
		})
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return s.mapError("TransactWriteItems", err)
		}
		reasons := tce.CancellationReasons
		if len(reasons) > 0 && aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
			current := reasons[0].Item
			if current == nil {
				out, err := s.getItem(ctx, &dynamodb.GetItemInput{Key: key(pk, headSK), ConsistentRead: aws.Bool(true)})
				if err != nil {
					return err
				}
				current = out.Item
			}
			if versionAttr(current) == head.Version && stringAttr(current, "at") == hi.At {
				return nil // an earlier attempt of this very call went through
			}
			return &ConflictError{Ref: head.Ref, Expected: expected, Actual: versionAttr(current)}
		}
		if !transactionConflict(reasons) || attempt >= maxTransactionRetries {
			return s.mapError("TransactWriteItems", err)
		}
		// Another transaction held one of the items (e.g. a concurrent publish of the same
		// layer): try again; its outcome decides whether the condition still holds.
		if err := sleep(ctx, s.backoff(attempt+1)); err != nil {
			return s.mapError("TransactWriteItems", err)
		}
	}
}

// stringAttr reads a string attribute of an item ("" when absent).
func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func transactionConflict(reasons []types.CancellationReason) bool {
	for _, r := range reasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

// Rollback moves a layer's head back (or forward) to another published version with one
// TransactWriteItems (head on condition that it still points at From, registry mirror,
// audit record). The target's entries are not copied: the head just points at them.
//
// To 0 moves the head of a global or environment layer back to "no entries", as before its
// first publish (a halted or aborted rollout of its first version ends there); the head item
// stays, at version 0, and the next publish claims a new number (versions are never reused).
// A cluster layer is never at 0: a cluster always renders its own layer.
func (s *Store) Rollback(ctx context.Context, in RollbackInput) (Head, error) {
	if err := checkRef(in.Ref); err != nil {
		return Head{}, fmt.Errorf("rollback: %w", err)
	}
	if in.From < 0 || (in.From == 0 && in.Ref.Scope == config.ScopeCluster) {
		return Head{}, newError(ErrNotFound, "rollback %s: the layer has no published version to roll back from", in.Ref)
	}
	switch {
	case in.To < 0:
		return Head{}, fmt.Errorf("rollback %s: target version %d is not a version number", in.Ref, in.To)
	case in.To == 0 && in.Ref.Scope == config.ScopeCluster:
		return Head{}, fmt.Errorf("rollback %s: target version 0 would leave the cluster without its own layer (its cluster record); a cluster layer rolls back to a published version", in.Ref)
	case in.To == in.From:
		return Head{}, fmt.Errorf("rollback %s: the head is already at version %d", in.Ref, in.To)
	}
	caller, err := s.writer(ctx, "rollback "+in.Ref.String())
	if err != nil {
		return Head{}, err
	}
	meta := versionItem{Digest: config.Digest([]config.Layer{{Ref: in.Ref}})} // version 0: no entries
	if in.To > 0 {
		out, err := s.getItem(ctx, &dynamodb.GetItemInput{Key: key(layerPK(in.Ref), versionSK(in.To)), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Head{}, fmt.Errorf("rollback %s: %w", in.Ref, err)
		}
		if out.Item == nil {
			return Head{}, newError(ErrNotFound, "rollback %s: the layer has no version %d", in.Ref, in.To)
		}
		if meta, err = decodeVersion(out.Item); err != nil {
			return Head{}, err
		}
		if !meta.Published {
			return Head{}, newError(ErrNotFound, "rollback %s: version %d was never published (its publish was interrupted or lost a conflict)", in.Ref, in.To)
		}
	}
	head := Head{
		Ref:       in.Ref,
		Version:   in.To,
		Previous:  in.From,
		At:        s.now().UTC(),
		Actor:     in.Actor,
		CallerArn: caller,
		Message:   in.Message,
		TraceID:   in.TraceID,
		Digest:    meta.Digest,
		Entries:   meta.Entries,
		Action:    ActionRollback,
		Cluster:   meta.Cluster.cluster(),
	}
	if err := s.moveHead(ctx, head, in.From, nil); err != nil {
		var conflict *ConflictError
		if errors.As(err, &conflict) {
			return Head{}, err
		}
		return Head{}, fmt.Errorf("rollback %s to version %d: %w", in.Ref, in.To, err)
	}
	return head, nil
}

// bumpChangeSeq increments the registry's change counter (see ChangeSeq).
func (s *Store) bumpChangeSeq(at time.Time) *types.Update {
	return &types.Update{
		TableName:                aws.String(s.table),
		Key:                      key(changesPK, changeSeqSK),
		UpdateExpression:         aws.String("ADD seq :one SET #at = :at"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":at":  &types.AttributeValueMemberS{Value: at.UTC().Format(timeFormat)},
		},
	}
}
