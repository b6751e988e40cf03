package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableWait bounds how long CreateTable waits for the table to become ACTIVE.
const tableWait = 5 * time.Minute

// CreateTable creates the table (pk S, sk S, on-demand) and waits until it is ACTIVE. It is
// idempotent: created is false when the table already existed.
func (s *Store) CreateTable(ctx context.Context) (created bool, err error) {
	out, err := callRaw(ctx, s, "CreateTable", func(ctx context.Context) (*dynamodb.CreateTableOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:   aws.String(s.table),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
			},
		})
		return out, nil, err
	})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		created = true
		if out.TableDescription != nil && out.TableDescription.TableStatus == types.TableStatusActive {
			return true, nil
		}
	case errors.As(err, &inUse):
		// The table exists (perhaps still being created): wait for it below.
	default:
		return false, fmt.Errorf("create table %s: %w", s.table, s.mapError("CreateTable", err))
	}
	// The SDK's waiter polls every 20 s by default; a new on-demand table is usually
	// ACTIVE within seconds.
	w := dynamodb.NewTableExistsWaiter(observedDescriber{s}, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, tableWait); err != nil {
		return created, fmt.Errorf("create table %s: waiting for it to become ACTIVE: %w", s.table, s.mapError("DescribeTable", err))
	}
	return created, nil
}

// Ping checks that the table exists and the caller may describe it (readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	out, err := s.describeTable(ctx)
	if err != nil {
		return err
	}
	if st := out.Table.TableStatus; st != types.TableStatusActive && st != types.TableStatusUpdating {
		return newError(ErrUnavailable, "table %s is %s, not ACTIVE", s.table, st)
	}
	return nil
}
