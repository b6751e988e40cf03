package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// ErrInterrupted is returned by a publish stopped by InterruptPublishes.
var ErrInterrupted = errors.New("publish interrupted by the test (as by a crash)")

// InterruptPublishes makes s's publishes stop after writing their entries, before the head
// moves, as a crash there would. It returns a function undoing it.
func InterruptPublishes(s *Store) (restore func()) {
	s.testHooks.afterEntries = func(int) error { return ErrInterrupted }
	return func() { s.testHooks.afterEntries = nil }
}

// PutRawItem writes an item as a person would in the console: plain data, no checks.
func PutRawItem(ctx context.Context, s *Store, item map[string]any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av})
	return err
}

// HighestVersion exposes the highest claimed version number of a layer.
var HighestVersion = (*Store).highestVersion

// SetClock replaces the store's clock.
func SetClock(s *Store, now func() time.Time) { s.now = now }

// AfterEntries runs hook after a publish wrote its entries, before the head moves.
func AfterEntries(s *Store, hook func(version int) error) { s.testHooks.afterEntries = hook }

// ReadVersions reads the pinned versions in parallel, as a pinned generation read does, and
// returns them in pin order.
func (s *Store) ReadVersions(ctx context.Context, pins []Pin) ([]config.Layer, error) {
	layers, _, err := s.readVersions(ctx, pins)
	return layers, err
}

// MoveRawItem moves an item to other keys as a release with another key layout would have
// written it: read, put under the new keys, delete (no checks, not atomic).
func MoveRawItem(ctx context.Context, s *Store, fromPK, fromSK, toPK, toSK string) error {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(fromPK, fromSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if out.Item == nil {
		return errors.New("no item " + fromPK + "/" + fromSK)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: rekey(out.Item, ItemKey{toPK, toSK})}); err != nil {
		return err
	}
	_, err = s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		s.table: {{DeleteRequest: &types.DeleteRequest{Key: key(fromPK, fromSK)}}}}})
	return err
}

// BumpLegacyChangeSeq increments the change counter at the registry key, as a publish of a
// release before the current key layout did.
func BumpLegacyChangeSeq(ctx context.Context, s *Store) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(s.table), Key: key(registryPK, changeSeqSK),
		UpdateExpression:          aws.String("ADD seq :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}}}})
	return err
}

// RawItems reads every item of partition pk as stored, for tests that pin the item format.
func RawItems(ctx context.Context, s *Store, pk string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}
