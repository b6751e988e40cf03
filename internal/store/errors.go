package store

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
)

// storeError is an error of the store: a sanitised message built from the operation, the
// error code and a short reason, and the sentinel callers branch on. It never holds the
// AWS error itself, whose text carries the request id; only context errors are kept as
// causes, so errors.Is(err, context.DeadlineExceeded) still works.
type storeError struct {
	msg   string
	kind  error
	cause error
}

func (e *storeError) Error() string { return e.msg }

func (e *storeError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func newError(kind error, format string, args ...any) error {
	return &storeError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// invalidItem reports a malformed item by its keys (never its body).
func invalidItem(pk, sk, format string, args ...any) error {
	return &storeError{
		msg:  fmt.Sprintf("item pk=%q sk=%q: %s", pk, sk, fmt.Sprintf(format, args...)),
		kind: ErrInvalidItem,
	}
}

// Codes DynamoDB and the AWS front end answer with.
var (
	throttleCodes = map[string]bool{
		"ProvisionedThroughputExceededException": true,
		"ThrottlingException":                    true,
		"Throttling":                             true,
		"RequestLimitExceeded":                   true,
		"TooManyRequestsException":               true,
	}
	credentialCodes = map[string]bool{
		"UnrecognizedClientException": true,
		"InvalidSignatureException":   true,
		"ExpiredTokenException":       true,
		"InvalidClientTokenId":        true,
		"SignatureDoesNotMatch":       true,
		"MissingAuthenticationToken":  true,
	}
	unavailableCodes = map[string]bool{
		"InternalServerError": true,
		"InternalFailure":     true,
		"ServiceUnavailable":  true,
	}
	// deniedAction finds the IAM action in an AccessDeniedException message ("... is not
	// authorized to perform: dynamodb:PutItem on resource: ..."); the rest of the message
	// (the caller's ARN) is not repeated.
	deniedAction = regexp.MustCompile(`perform: ([a-z0-9-]+:[A-Za-z0-9]+)`)
)

// mapError turns an error of the DynamoDB operation op into one of the store's errors.
func (s *Store) mapError(op string, err error) error {
	return s.mapServiceError("dynamodb", op, s.endpoint, err)
}

func (s *Store) mapServiceError(service, op, endpoint string, err error) error {
	if err == nil {
		return nil
	}
	var se *storeError
	var denied *AccessDeniedError
	if errors.As(err, &se) || errors.As(err, &denied) {
		return err // mapped already (a call's error passed up through a caller that maps too)
	}
	what := service + " " + op
	if service == "dynamodb" {
		what += " on table " + s.table
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &storeError{msg: fmt.Sprintf("%s: no answer from %s before the deadline", what, endpoint), kind: ErrUnavailable, cause: context.DeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return &storeError{msg: what + ": canceled", cause: context.Canceled}
	}

	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) && service == "dynamodb" {
		return s.tableNotFound()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		switch {
		case code == "ResourceNotFoundException" && service == "dynamodb":
			return s.tableNotFound()
		case code == "AccessDeniedException" || code == "AccessDenied":
			action := service + ":" + op
			if m := deniedAction.FindStringSubmatch(api.ErrorMessage()); m != nil {
				action = m[1]
			}
			if service != "dynamodb" {
				return newError(ErrAccessDenied, "access denied: the caller may not %s (optional: audit records then name no AWS principal)", action)
			}
			return &AccessDeniedError{Action: action, Table: s.table}
		case credentialCodes[code]:
			return newError(ErrCredentials, "%s: AWS rejected the request's credentials (%s): check the credentials of the pod (IRSA or EKS Pod Identity) or the AWS_* settings", what, code)
		case throttleCodes[code] || isThrottledTransaction(err):
			return newError(ErrThrottled, "%s: throttled by DynamoDB (%s) even after retries: the table's capacity or the account's request rate is exhausted", what, code)
		case unavailableCodes[code] || api.ErrorFault() == smithy.FaultServer || httpStatus(err) >= 500:
			return newError(ErrUnavailable, "%s: DynamoDB failed (%s%s)", what, code, statusSuffix(err))
		default:
			return newError(nil, "%s: %s: %s", what, code, shortReason(api.ErrorMessage()))
		}
	}
	if st := httpStatus(err); st >= 500 {
		return newError(ErrUnavailable, "%s: DynamoDB at %s failed (HTTP %d)", what, endpoint, st)
	}
	if isCredentialError(err) {
		return newError(ErrCredentials, "%s: no usable AWS credentials (looked at the environment, the shared config files, IRSA web identity and EKS Pod Identity)", what)
	}
	if reason, ok := networkReason(err); ok {
		return newError(ErrUnavailable, "%s: cannot reach %s at %s: %s", what, serviceTitle(service), endpoint, reason)
	}
	var deser *smithy.DeserializationError
	if errors.As(err, &deser) {
		return newError(ErrUnavailable, "%s: unexpected response from %s", what, endpoint)
	}
	return newError(ErrUnavailable, "%s: request to %s failed", what, endpoint)
}

func (s *Store) tableNotFound() error {
	return newError(ErrTableNotFound, "table %s does not exist in region %s: create it with `dynamo-cmp table create --table %s`", s.table, s.region, s.table)
}

func serviceTitle(service string) string {
	if service == "sts" {
		return "STS"
	}
	return "DynamoDB"
}

// isThrottledTransaction reports a transaction canceled because an item was throttled.
func isThrottledTransaction(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		if c := aws.ToString(r.Code); c == "ThrottlingError" || c == "ProvisionedThroughputExceeded" {
			return true
		}
	}
	return false
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func statusSuffix(err error) string {
	if st := httpStatus(err); st != 0 {
		return fmt.Sprintf(", HTTP %d", st)
	}
	return ""
}

// isCredentialError reports that the SDK could not obtain credentials (it wraps the
// provider chain's error in plain fmt errors, so the text is all there is to go by).
func isCredentialError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "get identity:") || strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "failed to refresh cached credentials")
}

// networkReason names a transport failure in a few words.
func networkReason(err error) (string, bool) {
	var dnsErr *net.DNSError
	var certErr *x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset", true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host", true
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve %s", dnsErr.Name), true
	case errors.As(err, &certErr), errors.As(err, &hostErr):
		return "TLS certificate not trusted", true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server", true
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out", true
	case errors.As(err, &netErr):
		return "network error", true
	}
	return "", false
}

// shortReason keeps the first line of an AWS error message, bounded. Messages of the codes
// that reach it (validation errors) describe the request, not item contents.
func shortReason(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = oneline.Cut(msg, 200)
	if msg == "" {
		return "request refused"
	}
	return msg
}
