package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// attrRemoving marks the metadata item of an interrupted version being removed: the head
// move of a publish still running on that version is conditional on its absence, so the
// version can never become visible once its removal has begun.
const attrRemoving = "removing"

// Orphan is a version whose publish never moved the head (it was interrupted, or lost a
// conflict and its clean-up failed). No head points at it and readers refuse it, so no
// head, rollback or pin can reach it.
type Orphan struct {
	Ref     config.LayerRef
	Version int
	// ClaimedAt is when its publish claimed the number (the metadata item's time).
	ClaimedAt time.Time
	// Items is the number of items it holds (entries and metadata).
	Items int
	// Recent is true when the claim is younger than the grace period: its publish may
	// still be running, so it is listed but never removed.
	Recent bool
}

// Orphans lists the unpublished versions of the given layers that still hold entries, oldest
// first per layer. A version claimed less than grace ago is marked Recent.
func (s *Store) Orphans(ctx context.Context, refs []config.LayerRef, grace time.Duration) ([]Orphan, error) {
	var out []Orphan
	now := s.now()
	for _, ref := range refs {
		versions, err := s.Versions(ctx, ref) // newest first
		if err != nil {
			return nil, err
		}
		for i := len(versions) - 1; i >= 0; i-- {
			v := versions[i]
			if v.Published {
				continue
			}
			keys, err := s.versionKeys(ctx, ref, v.Version)
			if err != nil {
				return nil, err
			}
			if v.Removed && len(keys) <= 1 {
				continue // a tombstone: nothing left to remove
			}
			out = append(out, Orphan{Ref: ref, Version: v.Version, ClaimedAt: v.At, Items: len(keys), Recent: now.Sub(v.At) < grace})
		}
	}
	return out, nil
}

// versionKeys returns the keys of the items of one version (metadata first, then entries).
func (s *Store) versionKeys(ctx context.Context, ref config.LayerRef, version int) ([]map[string]types.AttributeValue, error) {
	in := prefixQuery(layerPK(ref), versionSK(version))
	in.ProjectionExpression = aws.String("pk, sk")
	items, _, err := s.queryAll(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("list the items of %s version %d: %w", ref, version, err)
	}
	keys := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		// The prefix v#0000000012 also matches nothing else: numbers have fixed width.
		pk, sk := keyOf(it)
		keys = append(keys, key(pk, sk))
	}
	return keys, nil
}

// RemoveOrphan deletes the entries of an unpublished version that is not Recent, in an
// order that is safe against a publish of it still running and against being interrupted:
//
//  1. the metadata item is marked removing, on condition that it is still unpublished (a
//     publish that completed meanwhile keeps its version; the head move of one still
//     running now fails, so the version never becomes visible);
//  2. the entries are deleted.
//
// The marked metadata item stays as a tombstone (one small item): the number stays claimed,
// so no later publish can mix its entries with any a late writer left behind; a later run
// removes such leftovers.
func (s *Store) RemoveOrphan(ctx context.Context, o Orphan) error {
	if o.Recent {
		return fmt.Errorf("remove %s version %d: claimed at %s, within the grace period: its publish may still be running", o.Ref, o.Version, o.ClaimedAt.UTC().Format(time.RFC3339))
	}
	pk := layerPK(o.Ref)
	out, err := s.getItem(ctx, &dynamodb.GetItemInput{Key: key(pk, versionSK(o.Version)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("remove %s version %d: %w", o.Ref, o.Version, err)
	}
	if out.Item == nil {
		return nil // removed meanwhile
	}
	meta, err := decodeVersion(out.Item)
	if err != nil {
		return err
	}
	if meta.Published {
		return newError(ErrConflict, "remove %s version %d: it was published meanwhile; kept", o.Ref, o.Version)
	}
	marked := out.Item
	if meta.Removing {
		marked = nil // marked by an earlier run
	}
	if marked != nil {
		marked[attrRemoving] = &types.AttributeValueMemberBOOL{Value: true}
		_, err = s.putItemRaw(ctx, &dynamodb.PutItemInput{
			Item:                      marked,
			ConditionExpression:       aws.String("published = :false"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":false": &types.AttributeValueMemberBOOL{Value: false}},
		})
		var failed *types.ConditionalCheckFailedException
		if errors.As(err, &failed) {
			return newError(ErrConflict, "remove %s version %d: it was published meanwhile; kept", o.Ref, o.Version)
		}
		if err != nil {
			return fmt.Errorf("remove %s version %d: %w", o.Ref, o.Version, s.mapError("PutItem", err))
		}
	}
	keys, err := s.versionKeys(ctx, o.Ref, o.Version)
	if err != nil {
		return err
	}
	metaKey := versionSK(o.Version)
	var reqs []types.WriteRequest
	for _, k := range keys {
		if _, sk := keyOf(k); sk != metaKey {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("remove %s version %d: delete its entries: %w", o.Ref, o.Version, s.mapError("BatchWriteItem", err))
	}
	return nil
}
