package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CallerIdentity returns the ARN of the AWS principal the store acts as (STS
// GetCallerIdentity), for audit records. When DynamoDB is reached at an overridden endpoint
// (DynamoDB Local) and no STS endpoint is configured, it fails at once instead of asking AWS.
func (s *Store) CallerIdentity(ctx context.Context) (string, error) {
	s.stsOnce.Do(func() { s.sts, s.stsErr = s.newSTS() })
	if s.stsErr != nil {
		return "", s.stsErr
	}
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
	return aws.ToString(out.Arn), nil
}
