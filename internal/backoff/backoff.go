// Package backoff is the one formula of the pause before a retry that the project computes
// itself: exponential from a base, doubling each attempt, capped. The store's retries of
// DynamoDB calls and batches add jitter to it; the notifier's loops pause by it between
// failed rounds. Outbound HTTP calls use go-retryablehttp's own backoff.
package backoff

import "time"

// Exponential is the pause before retry attempt n (0: the first pause): base doubled n times
// (at most ten), at most limit.
func Exponential(n int, base, limit time.Duration) time.Duration {
	return min(base<<min(max(n, 0), 10), limit)
}
