package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// callerTimeout bounds the one GetCallerIdentity call a process makes.
const callerTimeout = 5 * time.Second

// errNoSTS says that DynamoDB is not AWS's (DynamoDB Local) and no STS endpoint is
// configured: there is no AWS principal to record.
var errNoSTS = errors.New("no STS endpoint")

// CallerIdentity returns the ARN of the AWS principal the store acts as (STS
// GetCallerIdentity), for audit records. It asks STS once per Store and keeps the answer; a
// failure is not kept, so the next call asks again. When DynamoDB is reached at an overridden
// endpoint (DynamoDB Local) and no STS endpoint is configured, it fails at once instead of
// asking AWS.
func (s *Store) CallerIdentity(ctx context.Context) (string, error) {
	s.callerMu.Lock()
	defer s.callerMu.Unlock()
	if s.callerArn != "" {
		return s.callerArn, nil
	}
	s.stsOnce.Do(func() { s.sts, s.stsErr = s.newSTS() })
	if s.stsErr != nil {
		return "", s.stsErr
	}
	ctx, cancel := context.WithTimeout(ctx, callerTimeout)
	defer cancel()
	start := time.Now()
	out, err := s.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		err = s.mapServiceError("sts", "GetCallerIdentity", "STS", err)
	}
	if s.obs != nil {
		s.obs.ObserveCall("GetCallerIdentity", time.Since(start), 0, 0, err)
	}
	if err != nil {
		return "", err
	}
	arn := aws.ToString(out.Arn)
	if arn == "" {
		return "", newError(ErrUnavailable, "caller identity: STS GetCallerIdentity answered without an ARN")
	}
	s.callerArn = arn
	return arn, nil
}

// writer returns the caller ARN a write records in its callerArn attribute. A write is refused
// (a retryable error) when STS cannot say who the caller is: an audit record without its
// principal is what this attribute exists to prevent. Against DynamoDB Local without an STS
// endpoint there is no AWS principal, and it returns "".
func (s *Store) writer(ctx context.Context, what string) (string, error) {
	arn, err := s.CallerIdentity(ctx)
	switch {
	case err == nil:
		return arn, nil
	case errors.Is(err, errNoSTS):
		return "", nil
	default:
		return "", fmt.Errorf("%s: refused, the audit record needs the caller's AWS identity: %w", what, err)
	}
}
