package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// call runs one DynamoDB API call, reports it to the observer and maps its error. fn returns
// the consumed capacity of the response (nil when the call failed).
func call[T any](ctx context.Context, s *Store, op string, fn func(context.Context) (T, []types.ConsumedCapacity, error)) (T, error) {
	start := time.Now()
	out, cc, err := fn(ctx)
	if err != nil {
		err = s.mapError(op, err)
	}
	if s.obs != nil {
		r, w := capacityUnits(op, cc)
		s.obs.ObserveCall(op, time.Since(start), r, w, err)
	}
	return out, err
}

// callRaw is call without the error mapping, for the callers that inspect the AWS error
// (conditional writes, transactions). They must pass the error through s.mapError
// themselves once they have looked at it; the observer sees the mapped error.
func callRaw[T any](ctx context.Context, s *Store, op string, fn func(context.Context) (T, []types.ConsumedCapacity, error)) (T, error) {
	start := time.Now()
	out, cc, err := fn(ctx)
	if s.obs != nil {
		var reported error
		if err != nil {
			reported = s.mapError(op, err)
		}
		r, w := capacityUnits(op, cc)
		s.obs.ObserveCall(op, time.Since(start), r, w, reported)
	}
	return out, err
}

// writeOps consume write capacity; every other operation reads.
var writeOps = map[string]bool{"PutItem": true, "BatchWriteItem": true, "TransactWriteItems": true, "UpdateItem": true, "DeleteItem": true}

// capacityUnits sums consumed capacity. AWS reports read and write units separately for some
// operations; DynamoDB Local reports only CapacityUnits, attributed here by operation.
func capacityUnits(op string, cc []types.ConsumedCapacity) (read, write float64) {
	for _, c := range cc {
		r, w := aws.ToFloat64(c.ReadCapacityUnits), aws.ToFloat64(c.WriteCapacityUnits)
		if r == 0 && w == 0 {
			if writeOps[op] {
				w = aws.ToFloat64(c.CapacityUnits)
			} else {
				r = aws.ToFloat64(c.CapacityUnits)
			}
		}
		read += r
		write += w
	}
	return read, write
}

func one(c *types.ConsumedCapacity) []types.ConsumedCapacity {
	if c == nil {
		return nil
	}
	return []types.ConsumedCapacity{*c}
}

// The typed wrappers below set ReturnConsumedCapacity=TOTAL on every request, so the
// observer sees what each call cost.

func (s *Store) getItem(ctx context.Context, in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
	in.TableName = aws.String(s.table)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return call(ctx, s, "GetItem", func(ctx context.Context) (*dynamodb.GetItemOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.GetItem(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, one(out.ConsumedCapacity), nil
	})
}

// putItemRaw returns the AWS error unmapped (conditional claims inspect it).
func (s *Store) putItemRaw(ctx context.Context, in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
	in.TableName = aws.String(s.table)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return callRaw(ctx, s, "PutItem", func(ctx context.Context) (*dynamodb.PutItemOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.PutItem(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, one(out.ConsumedCapacity), nil
	})
}

func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput) (*dynamodb.QueryOutput, error) {
	in.TableName = aws.String(s.table)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return call(ctx, s, "Query", func(ctx context.Context) (*dynamodb.QueryOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, one(out.ConsumedCapacity), nil
	})
}

func (s *Store) batchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput) (*dynamodb.BatchGetItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return call(ctx, s, "BatchGetItem", func(ctx context.Context) (*dynamodb.BatchGetItemOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.BatchGetItem(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, out.ConsumedCapacity, nil
	})
}

func (s *Store) batchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput) (*dynamodb.BatchWriteItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return call(ctx, s, "BatchWriteItem", func(ctx context.Context) (*dynamodb.BatchWriteItemOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.BatchWriteItem(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, out.ConsumedCapacity, nil
	})
}

// transactWriteItemsRaw returns the AWS error unmapped (conflicts are read from it).
func (s *Store) transactWriteItemsRaw(ctx context.Context, in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	return callRaw(ctx, s, "TransactWriteItems", func(ctx context.Context) (*dynamodb.TransactWriteItemsOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.TransactWriteItems(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		return out, out.ConsumedCapacity, nil
	})
}

func (s *Store) describeTable(ctx context.Context) (*dynamodb.DescribeTableOutput, error) {
	return call(ctx, s, "DescribeTable", func(ctx context.Context) (*dynamodb.DescribeTableOutput, []types.ConsumedCapacity, error) {
		out, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
		return out, nil, err
	})
}

// observedDescriber lets the SDK's table waiter poll through the observer.
type observedDescriber struct{ s *Store }

func (d observedDescriber) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	start := time.Now()
	out, err := d.s.db.DescribeTable(ctx, in, optFns...)
	if d.s.obs != nil {
		var reported error
		if err != nil {
			reported = d.s.mapError("DescribeTable", err)
		}
		d.s.obs.ObserveCall("DescribeTable", time.Since(start), 0, 0, reported)
	}
	return out, err
}

// CallCounter is an Observer that counts calls per operation and the capacity they consumed.
// Tests and benchmarks use it to assert round trips; it is safe for concurrent use.
type CallCounter struct {
	mu         sync.Mutex
	calls      map[string]int
	errors     int
	readUnits  float64
	writeUnits float64
}

var _ Observer = (*CallCounter)(nil)

// ObserveCall implements Observer.
func (c *CallCounter) ObserveCall(op string, _ time.Duration, readUnits, writeUnits float64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
	if err != nil {
		c.errors++
	}
	c.readUnits += readUnits
	c.writeUnits += writeUnits
}

// Calls returns the number of calls of op ("Query", "BatchGetItem" ...).
func (c *CallCounter) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Total returns the number of calls of every operation.
func (c *CallCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// Errors returns the number of calls that failed.
func (c *CallCounter) Errors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errors
}

// ReadUnits returns the read capacity units consumed so far.
func (c *CallCounter) ReadUnits() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readUnits
}

// WriteUnits returns the write capacity units consumed so far.
func (c *CallCounter) WriteUnits() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeUnits
}

// Reset forgets everything counted.
func (c *CallCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.errors, c.readUnits, c.writeUnits = nil, 0, 0, 0
}

// String summarises the counts: "BatchGetItem=1 Query=3 (4 calls, 3.5 RCU, 0 WCU)".
func (c *CallCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := make([]string, 0, len(c.calls))
	total := 0
	for op, n := range c.calls {
		ops = append(ops, op)
		total += n
	}
	sort.Strings(ops)
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "%s=%d ", op, c.calls[op])
	}
	fmt.Fprintf(&b, "(%d calls, %g RCU, %g WCU)", total, c.readUnits, c.writeUnits)
	return b.String()
}
