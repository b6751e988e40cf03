package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DefaultTable is the table name used when none is configured.
const DefaultTable = "dynamo-cmp"

// Config configures the DynamoDB client.
type Config struct {
	// Table is the table name (DefaultTable when empty).
	Table string
	// Region is the AWS region; required unless the shared config names one.
	Region string
	// Endpoint overrides the DynamoDB endpoint (AWS_ENDPOINT_URL_DYNAMODB), e.g. DynamoDB Local.
	Endpoint string
	// STSEndpoint overrides the STS endpoint (AWS_ENDPOINT_URL_STS) asked for the caller
	// identity that writes record. With Endpoint set and STSEndpoint empty, writes record no
	// caller ARN (DynamoDB Local has no AWS principals).
	STSEndpoint string
	// Profile selects a shared-config profile (AWS_PROFILE).
	Profile string
	// StaticCredentials, when set, replace the default credential chain (tests, DynamoDB Local).
	StaticCredentials *StaticCredentials
	// MaxAttempts bounds the SDK's standard retryer (default 5); MaxBackoff its delay (default 2s).
	MaxAttempts int
	MaxBackoff  time.Duration
	// Observer, when set, is told about every DynamoDB call (metrics, round-trip counting).
	Observer Observer
}

// StaticCredentials are an access key pair.
type StaticCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Observer receives one call per DynamoDB API call made by the store.
type Observer interface {
	// ObserveCall reports an API operation ("Query", "BatchGetItem" ...), its duration, the
	// read and write capacity it consumed (as reported with ReturnConsumedCapacity=TOTAL) and
	// its error, if any.
	ObserveCall(op string, d time.Duration, readUnits, writeUnits float64, err error)
}

// Head is the published state of a layer: its head item (and registry mirror).
type Head struct {
	Ref config.LayerRef
	// Version is the published version; versions increase and may have gaps where a publish
	// was interrupted.
	Version int
	// Previous is the version the head pointed to before this publish or rollback.
	Previous int
	At       time.Time
	// Actor is the free-text label of who made the change (--actor); CallerArn the AWS
	// principal that wrote it (STS GetCallerIdentity), empty when none was known.
	Actor     string
	CallerArn string
	Message   string
	TraceID   string
	// Digest is config.Digest of the version's entries.
	Digest string
	// Entries is the number of entries of the version.
	Entries int
	// Action is "publish" or "rollback".
	Action string
	// Cluster is the cluster record of a cluster layer's version (nil for other layers).
	Cluster *config.Cluster
}

// VersionInfo describes one version of a layer (its metadata item).
type VersionInfo struct {
	Ref       config.LayerRef
	Version   int
	Based     int // the head version it was published over
	At        time.Time
	Actor     string
	CallerArn string
	Message   string
	TraceID   string
	Digest    string
	Entries   int
	Published bool // false for versions whose publish never moved the head
	// Removed is true for an interrupted version whose entries were removed (config
	// orphans --delete): its metadata item stays as a tombstone, so the number is never
	// claimed again.
	Removed bool
}

// AuditRecord is one publish or rollback.
type AuditRecord struct {
	Ref       config.LayerRef
	Action    string // publish | rollback
	From      int
	To        int
	At        time.Time
	Actor     string
	CallerArn string
	Message   string
	TraceID   string
}

// Pin names one version of one layer.
type Pin struct {
	Ref     config.LayerRef
	Version int
}

// PublishInput is a new version of a layer.
type PublishInput struct {
	Ref     config.LayerRef
	Entries []config.Entry
	// Base is the head version the caller validated against (0: the layer does not exist
	// yet). The head moves only if it still points there; otherwise Publish returns a
	// *ConflictError and nothing becomes visible.
	Base    int
	Actor   string
	Message string
	TraceID string
	// Rollout, when set, starts a rollout of the new version: it is written in the
	// transaction that moves the head, with Target set to the version claimed (replacing the
	// layer's earlier rollout).
	Rollout *rollout.Rollout
}

// RollbackInput moves a layer's head back to an earlier published version.
type RollbackInput struct {
	Ref config.LayerRef
	// From is the current head version the caller validated against; To the target.
	From, To int
	Actor    string
	Message  string
	TraceID  string
}

// Draft is a draft entry edited in the console. Delete marks an entry to be removed from the
// layer by the next drafts publish (attribute "$draft": "delete").
type Draft struct {
	Entry  config.Entry
	Delete bool
}

// Errors callers branch on. Every error returned by the store wraps one of these or is a
// plain, sanitised description of what failed.
var (
	// ErrTableNotFound: the table does not exist (create it with `dynamo-cmp table create`).
	ErrTableNotFound = errors.New("table not found")
	// ErrNotFound: the layer or version does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: another publish or rollback moved the head first.
	ErrConflict = errors.New("conflict")
	// ErrAccessDenied: IAM denied an action (see *AccessDeniedError).
	ErrAccessDenied = errors.New("access denied")
	// ErrCredentials: no AWS credentials were found, or AWS rejected them.
	ErrCredentials = errors.New("credentials")
	// ErrThrottled: DynamoDB kept throttling after the retries.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable: DynamoDB could not be reached or failed (network, 5xx, timeout).
	ErrUnavailable = errors.New("unavailable")
	// ErrTooLarge: an entry breaks one of DynamoDB's item limits (400 KB, 32 levels of
	// nesting, name lengths, number range): DynamoDB would refuse to store it.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidItem: an item in the table is malformed (e.g. a console edit broke it).
	ErrInvalidItem = errors.New("invalid item")
	// ErrWrongEnvironment: the cluster record names another environment than the one asked
	// for (a configuration error, not a failure to read).
	ErrWrongEnvironment = errors.New("wrong environment")
	// ErrOldLayout: an item this release writes elsewhere is still at the key layout of an
	// earlier release; `dynamo-cmp table upgrade` moves it (not retryable).
	ErrOldLayout = errors.New("item at an old key layout")
)

// ConflictError says who moved the head first.
type ConflictError struct {
	Ref      config.LayerRef
	Expected int
	Actual   int
}

func (e *ConflictError) Error() string {
	// A head below the base can only have got there by a rollback; above it, by a publish or
	// a rollback to a later version.
	why := "someone published or rolled it back meanwhile"
	if e.Actual < e.Expected {
		why = "it was rolled back meanwhile"
	}
	return fmt.Sprintf("conflict: layer %s is at version %d, not at version %d that this change was based on (%s); nothing was changed: re-read it (dynamo-cmp config get --layer %s), redo the change on version %d and publish again", e.Ref, e.Actual, e.Expected, why, e.Ref, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// AccessDeniedError names the IAM action that was denied.
type AccessDeniedError struct {
	Action string // e.g. "dynamodb:Query"
	Table  string
}

func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("access denied: the caller may not %s on table %s (grant that IAM action; see docs/security.md)", e.Action, e.Table)
}

// Is makes errors.Is(err, ErrAccessDenied) true.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }
