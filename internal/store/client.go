package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/dynamo-cmp/dynamo-cmp/internal/backoff"
)

// Defaults of the SDK's standard retryer as the store configures it.
const (
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 2 * time.Second
)

// dynamoAPI lists the DynamoDB calls the store makes, and nothing else. *dynamodb.Client
// implements it; unit tests inject faults with a struct of ...Fn fields.
type dynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

// stsAPI lists the STS call the store makes.
type stsAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var (
	_ dynamoAPI = (*dynamodb.Client)(nil)
	_ stsAPI    = (*sts.Client)(nil)
)

// Store reads and publishes configuration layers in one DynamoDB table. It is safe for
// concurrent use.
type Store struct {
	db     dynamoAPI
	table  string
	region string
	// endpoint is the DynamoDB endpoint as error messages name it.
	endpoint string
	// endpointOverridden is true when DynamoDB is not AWS's (DynamoDB Local in tests).
	endpointOverridden bool
	obs                Observer

	stsOnce   sync.Once
	sts       stsAPI
	stsErr    error
	callerMu  sync.Mutex
	callerArn string
	newSTS    func() (stsAPI, error)
	now       func() time.Time
	backoff   func(attempt int) time.Duration
	parallel  int
	testHooks testHooks
}

// testHooks let tests stop a publish at a chosen point (see export_test.go).
type testHooks struct {
	// afterEntries runs after a publish wrote its entries and before it moves the head; an
	// error stops the publish there, as a crash would.
	afterEntries func(version int) error
}

// New returns a Store for cfg. It loads the AWS configuration the way the AWS CLI does
// (environment, shared config and credentials files, IRSA web identity, EKS Pod Identity,
// instance metadata) unless cfg.StaticCredentials is set; that load reads only local files and
// the environment, so it is cheap. Credentials are fetched on the first call.
func New(ctx context.Context, cfg Config) (*Store, error) {
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if err := CheckTableName(table); err != nil {
		return nil, fmt.Errorf("table %q: %w", showName(table), err)
	}
	maxAttempts := cfg.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	maxBackoff := cfg.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	opts := []func(*awsconfig.LoadOptions) error{
		// The SDK's default logger writes warnings ("failed to discard remaining HTTP
		// response body ...") straight to the process's stderr, where a failed generate must
		// print exactly one paragraph (Argo CD shows it). The store reports through its
		// Observer and its errors instead.
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				// The SDK's default backoff stops jittering once it reaches MaxBackoff, so
				// processes throttled together would retry in lockstep: jitter every delay.
				o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
					return retryBackoff(attempt, maxBackoff), nil
				})
				o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(retryTruncated))
			})
		}),
		// A request that gets no answer is retried after attemptTimeout instead of using up
		// the command's whole deadline.
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = attemptTimeout
		})),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if c := cfg.StaticCredentials; c != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
		// Nothing may wait on the instance metadata service when the credentials are given:
		// with a local endpoint there is no instance to ask, and the SDK would otherwise
		// probe it (with timeouts) for the region or as a fallback credential source.
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, configLoadError(err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("no AWS region configured: set AWS_REGION or pass --region")
	}

	s := &Store{
		table:    table,
		region:   awsCfg.Region,
		obs:      cfg.Observer,
		now:      time.Now,
		backoff:  defaultBackoff,
		parallel: defaultParallelism,
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if o.BaseEndpoint != nil {
			s.endpoint = *o.BaseEndpoint
			s.endpointOverridden = true
			// DynamoDB Local's error responses carry no CRC32 header; AWS's always do.
			if isLoopback(*o.BaseEndpoint) {
				o.DisableValidateResponseChecksum = true
			}
		}
	})
	if s.endpoint == "" {
		s.endpoint = "https://dynamodb." + awsCfg.Region + ".amazonaws.com"
	}
	s.db = client
	s.newSTS = func() (stsAPI, error) {
		c := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
			if cfg.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.STSEndpoint)
			}
		})
		// AWS_ENDPOINT_URL (every service) would send STS to DynamoDB Local too.
		base := c.Options().BaseEndpoint
		if s.endpointOverridden && (base == nil || cfg.STSEndpoint == "" && *base == s.endpoint) {
			return nil, fmt.Errorf("caller identity: DynamoDB is reached at %s (not AWS) and no STS endpoint is configured (AWS_ENDPOINT_URL_STS): not asking AWS: %w", s.endpoint, errNoSTS)
		}
		return c, nil
	}
	return s, nil
}

// newWithAPI returns a Store that talks to db (unit tests).
func newWithAPI(db dynamoAPI, table, region string, obs Observer) *Store {
	return &Store{
		db:       db,
		table:    table,
		region:   region,
		endpoint: "https://dynamodb." + region + ".amazonaws.com",
		obs:      obs,
		now:      time.Now,
		backoff:  func(int) time.Duration { return time.Millisecond },
		parallel: defaultParallelism,
		newSTS: func() (stsAPI, error) {
			return nil, fmt.Errorf("caller identity: no STS client: %w", errNoSTS)
		},
	}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// defaultParallelism bounds the concurrent requests of one operation (batch writes, parallel
// queries).
const defaultParallelism = 8

// attemptTimeout bounds the wait for the response headers of one DynamoDB request.
const attemptTimeout = 10 * time.Second

// retryBackoff is the SDK's delay before retry attempt n (1, 2 ...): exponential from 50 ms up
// to max, with jitter.
func retryBackoff(attempt int, max time.Duration) time.Duration {
	return jitteredBackoff(attempt, 50*time.Millisecond, max)
}

// defaultBackoff is the delay before retrying unprocessed batch items or a transaction that
// met another one: exponential from 25 ms, at most 1 s, with jitter.
func defaultBackoff(attempt int) time.Duration {
	return jitteredBackoff(attempt, 25*time.Millisecond, time.Second)
}

// jitteredBackoff is backoff.Exponential with "equal jitter": half of it fixed, half random.
func jitteredBackoff(attempt int, base, max time.Duration) time.Duration {
	d := backoff.Exponential(attempt, base, max)
	return d/2 + time.Duration(jitter(int64(d/2)))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isLoopback reports whether endpoint names this machine (127.0.0.0/8, ::1 or localhost).
func isLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// configLoadError describes a failed load of the AWS configuration without quoting the files
// (a parse error could echo a line of the credentials file).
func configLoadError(err error) error {
	var noProfile awsconfig.SharedConfigProfileNotExistError
	if errors.As(err, &noProfile) {
		return fmt.Errorf("load AWS configuration: profile %q is not in the shared config files (check AWS_PROFILE / --profile)", noProfile.Profile)
	}
	return errors.New("load AWS configuration: the shared config or credentials file could not be read or parsed (check AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE)")
}

// retryTruncated retries a call whose answer was cut off mid-body (the connection closed
// before Content-Length bytes arrived), as the SDK retries a reset connection. Every call the
// store makes may be repeated: reads, batch puts and deletes of whole items, transactions
// (their ClientRequestToken makes a repeat the same transaction) and conditional claims (a
// repeat finds its own claim and moves to the next number, leaving a documented gap).
func retryTruncated(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// jitter returns a random duration in [0, n).
func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}
