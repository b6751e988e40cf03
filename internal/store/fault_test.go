package store

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// fakeDynamo implements dynamoAPI with one function per call; a call without a function
// fails the test.
type fakeDynamo struct {
	t                    *testing.T
	GetItemFn            func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
	PutItemFn            func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	QueryFn              func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error)
	BatchGetItemFn       func(*dynamodb.BatchGetItemInput) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItemFn     func(*dynamodb.BatchWriteItemInput) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItemsFn func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error)
	DescribeTableFn      func(*dynamodb.DescribeTableInput) (*dynamodb.DescribeTableOutput, error)
	CreateTableFn        func(*dynamodb.CreateTableInput) (*dynamodb.CreateTableOutput, error)
}

func must[I, O any](t *testing.T, name string, fn func(I) (O, error), in I) (O, error) {
	t.Helper()
	if fn == nil {
		t.Fatalf("unexpected call %s", name)
	}
	return fn(in)
}

func (f *fakeDynamo) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return must(f.t, "GetItem", f.GetItemFn, in)
}
func (f *fakeDynamo) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return must(f.t, "PutItem", f.PutItemFn, in)
}
func (f *fakeDynamo) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return must(f.t, "Query", f.QueryFn, in)
}
func (f *fakeDynamo) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return must(f.t, "BatchGetItem", f.BatchGetItemFn, in)
}
func (f *fakeDynamo) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return must(f.t, "BatchWriteItem", f.BatchWriteItemFn, in)
}
func (f *fakeDynamo) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return must(f.t, "TransactWriteItems", f.TransactWriteItemsFn, in)
}
func (f *fakeDynamo) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return must(f.t, "DescribeTable", f.DescribeTableFn, in)
}
func (f *fakeDynamo) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return must(f.t, "CreateTable", f.CreateTableFn, in)
}

const requestID = "REQ-0c8e1c3e-leak-me-not"

// awsError wraps an API error the way the SDK does: operation error, HTTP response error
// with the request id, then the service's error.
func awsError(op string, status int, err error) error {
	return &smithy.OperationError{
		ServiceID:     "DynamoDB",
		OperationName: op,
		Err: &awshttp.ResponseError{
			RequestID: requestID,
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      err,
			},
		},
	}
}

func TestErrorMapping(t *testing.T) {
	refused := &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "Query", Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
	}}
	tests := []struct {
		name    string
		err     error
		wantErr error
		wantMsg string
	}{
		{
			name:    "throttled",
			err:     awsError("Query", 400, &types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded")}),
			wantErr: ErrThrottled,
			wantMsg: "dynamodb Query on table cfg: throttled by DynamoDB (ProvisionedThroughputExceededException)",
		},
		{
			name:    "throttling exception",
			err:     awsError("Query", 400, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate of requests exceeds the allowed throughput."}),
			wantErr: ErrThrottled,
			wantMsg: "throttled by DynamoDB (ThrottlingException)",
		},
		{
			name:    "request limit",
			err:     awsError("Query", 400, &types.RequestLimitExceeded{Message: aws.String("Throughput exceeds the current throughput limit for your account.")}),
			wantErr: ErrThrottled,
			wantMsg: "(RequestLimitExceeded)",
		},
		{
			name: "access denied",
			err: awsError("Query", 400, &smithy.GenericAPIError{Code: "AccessDeniedException",
				Message: "User: arn:aws:sts::123456789012:assumed-role/argocd-repo-server/i-0abc is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/cfg because no identity-based policy allows the dynamodb:Query action"}),
			wantErr: ErrAccessDenied,
			wantMsg: "access denied: the caller may not dynamodb:Query on table cfg",
		},
		{
			name:    "missing table",
			err:     awsError("Query", 400, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}),
			wantErr: ErrTableNotFound,
			wantMsg: "table cfg does not exist in region eu-west-1: create it with `dynamo-cmp table create --table cfg`",
		},
		{
			name:    "server error",
			err:     awsError("Query", 500, &types.InternalServerError{Message: aws.String("Internal server error")}),
			wantErr: ErrUnavailable,
			wantMsg: "DynamoDB failed (InternalServerError, HTTP 500)",
		},
		{
			name:    "bad credentials",
			err:     awsError("Query", 400, &smithy.GenericAPIError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}),
			wantErr: ErrCredentials,
			wantMsg: "AWS rejected the request's credentials (UnrecognizedClientException)",
		},
		{
			name:    "connection refused",
			err:     refused,
			wantErr: ErrUnavailable,
			wantMsg: "dynamodb Query on table cfg: cannot reach DynamoDB at https://dynamodb.eu-west-1.amazonaws.com: connection refused",
		},
		{
			name:    "deadline",
			err:     &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "Query", Err: context.DeadlineExceeded},
			wantErr: context.DeadlineExceeded,
			wantMsg: "no answer from https://dynamodb.eu-west-1.amazonaws.com before the deadline",
		},
		{
			name:    "validation",
			err:     awsError("Query", 400, &smithy.GenericAPIError{Code: "ValidationException", Message: "Invalid KeyConditionExpression"}),
			wantMsg: "dynamodb Query on table cfg: ValidationException: Invalid KeyConditionExpression",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.err.Error(), "RequestID") && tt.err != refused && !strings.Contains(tt.name, "deadline") {
				t.Fatalf("the fake error does not look like the SDK's: %v", tt.err)
			}
			calls := &CallCounter{}
			s := newWithAPI(&fakeDynamo{t: t, QueryFn: func(*dynamodb.QueryInput) (*dynamodb.QueryOutput, error) { return nil, tt.err }}, "cfg", "eu-west-1", calls)
			_, err := s.ReadVersion(context.Background(), config.GlobalLayer, 3)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("errors.Is(%v, %v) is false", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not say %q", msg, tt.wantMsg)
			}
			for _, leak := range []string{requestID, "RequestID", "arn:aws:sts", "123456789012", "security token"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q leaks %q", msg, leak)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message %q is not one line", msg)
			}
			var denied *AccessDeniedError
			if errors.As(err, &denied) && denied.Action != "dynamodb:Query" {
				t.Errorf("denied action = %q", denied.Action)
			}
			if calls.Calls("Query") != 1 || calls.Errors() != 1 {
				t.Errorf("observer saw %s, %d errors", calls, calls.Errors())
			}
		})
	}
}

// The IAM action of a transaction's denial is the one AWS names, not "TransactWriteItems".
func TestAccessDeniedNamesTheDeniedAction(t *testing.T) {
	s := newWithAPI(nil, "cfg", "eu-west-1", nil)
	err := s.mapError("TransactWriteItems", awsError("TransactWriteItems", 400, &smithy.GenericAPIError{
		Code: "AccessDeniedException", Message: "User: arn:aws:iam::1:user/x is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:eu-west-1:1:table/cfg"}))
	var denied *AccessDeniedError
	if !errors.As(err, &denied) || denied.Action != "dynamodb:UpdateItem" || denied.Table != "cfg" {
		t.Fatalf("got %#v", err)
	}
	err = s.mapError("BatchGetItem", awsError("BatchGetItem", 400, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "denied"}))
	if !errors.As(err, &denied) || denied.Action != "dynamodb:BatchGetItem" {
		t.Fatalf("without an action in the message: got %#v", err)
	}
}

// A publish whose head moved at the last moment reports the conflict with the head's actual
// version, and removes the version it wrote.
func TestPublishConflictInTransaction(t *testing.T) {
	var deleted, written int
	headAt := 1
	f := &fakeDynamo{t: t}
	f.GetItemFn = func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
		return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"version": &types.AttributeValueMemberN{Value: "1"}}}, nil
	}
	f.PutItemFn = func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return &dynamodb.PutItemOutput{}, nil }
	f.BatchWriteItemFn = func(in *dynamodb.BatchWriteItemInput) (*dynamodb.BatchWriteItemOutput, error) {
		for _, r := range in.RequestItems["cfg"] {
			if r.PutRequest != nil {
				written++
			} else {
				deleted++
			}
		}
		return &dynamodb.BatchWriteItemOutput{}, nil
	}
	f.TransactWriteItemsFn = func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		headAt = 2
		return nil, awsError("TransactWriteItems", 400, &types.TransactionCanceledException{
			Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]"),
			CancellationReasons: []types.CancellationReason{
				{Code: aws.String("ConditionalCheckFailed"), Item: map[string]types.AttributeValue{"version": &types.AttributeValueMemberN{Value: "2"}}},
				{Code: aws.String("None")}, {Code: aws.String("None")}, {Code: aws.String("None")},
			},
		})
	}
	s := newWithAPI(f, "cfg", "eu-west-1", nil)
	ns, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": "a"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Publish(context.Background(), PublishInput{Ref: config.GlobalLayer, Base: 1, Entries: []config.Entry{ns}})
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Expected != 1 || conflict.Actual != headAt {
		t.Fatalf("got %v, want a conflict from 1 to 2", err)
	}
	if written != 1 || deleted != 2 {
		t.Errorf("wrote %d items and deleted %d, want 1 written, then it and the claim deleted", written, deleted)
	}
}

// Unprocessed batch items are retried until DynamoDB takes them.
func TestBatchWriteRetriesUnprocessedItems(t *testing.T) {
	attempts := 0
	f := &fakeDynamo{t: t, BatchWriteItemFn: func(in *dynamodb.BatchWriteItemInput) (*dynamodb.BatchWriteItemOutput, error) {
		attempts++
		reqs := in.RequestItems["cfg"]
		if len(reqs) > 1 {
			return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{"cfg": reqs[1:]}}, nil
		}
		return &dynamodb.BatchWriteItemOutput{}, nil
	}}
	s := newWithAPI(f, "cfg", "eu-west-1", nil)
	items := make([]map[string]types.AttributeValue, 3)
	for i := range items {
		items[i] = key("global", versionSK(i+1))
	}
	if err := s.writeItems(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Errorf("%d BatchWriteItem calls, want 3", attempts)
	}
}
