package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// Outbound targets, as metrics and logs name them.
const (
	TargetKube    = "kubernetes"
	TargetArgoCD  = "argocd"
	TargetWebhook = "webhook"
)

// DefaultMaxResponse bounds what is read of an answer when Call.MaxBytes is zero.
const DefaultMaxResponse = 64 << 20

// maxResponse bounds what is drained of an answer that is not decoded.
const maxResponse = DefaultMaxResponse

// TooLargeError is an answer longer than the limit of its call: it is refused as a whole
// (never decoded in part), so no decision is taken on a truncated list.
type TooLargeError struct {
	Target string
	Method string
	Path   string
	// Limit is the limit in bytes.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s %s %s: the answer is larger than the limit of %s: refused", e.Target, e.Method, e.Path, FormatBytes(e.Limit))
}

// FormatBytes writes n as MiB when it is a whole number of them, else as bytes.
func FormatBytes(n int64) string {
	if n > 0 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// NewClient returns the retrying HTTP client of one target: at most o.RetryMax retries of
// connection errors, 429 and 5xx, exponential backoff between o.RetryWaitMin and
// o.RetryWaitMax (a Retry-After header is honoured up to o.RetryWaitMax), o.Timeout per
// attempt. Attempts and retries are counted in m.
//
// It never follows a redirect: every call carries a bearer token and often a body, which
// Go's client would send on to the new address (for a 307 or 308 to the same host on another
// port, say). The redirect is the answer, and Call.Do reports it as a *StatusError.
func NewClient(target string, o HTTPOptions, tlsConfig *tls.Config, m *Metrics, log *slog.Logger) *retryablehttp.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	tr.MaxIdleConnsPerHost = 8
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: refuseRedirects}
	c.RetryMax = o.RetryMax
	c.RetryWaitMin, c.RetryWaitMax = o.RetryWaitMin, o.RetryWaitMax
	c.Backoff = func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), hi)
	}
	c.Logger = retryLogger{log.With("target", target)}
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err != nil {
			m.Attempts.WithLabelValues(target, "error").Inc()
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	c.RequestLogHook = func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
		if attempt > 0 {
			m.Retries.WithLabelValues(target).Inc()
		}
	}
	c.ResponseLogHook = func(_ retryablehttp.Logger, resp *http.Response) {
		m.Attempts.WithLabelValues(target, strconv.Itoa(resp.StatusCode)).Inc()
	}
	return c
}

// refuseRedirects makes the client return a redirect as the answer instead of following it.
func refuseRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CheckURL checks the URL of an outbound target: absolute, https — or http only when
// allowHTTP is set (a plain-HTTP service inside the cluster, a test) — with a host and no
// user information (credentials belong in the token).
func CheckURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, errors.Unwrap(err))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("%s uses plain http, which sends the bearer token and the body unencrypted: use https, or allow plain http explicitly (--allow-insecure-http) for a service reached only inside the cluster", u.Redacted())
	default:
		return fmt.Errorf("%q: the scheme must be https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%s has no host", u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%s carries user information: give the credentials as a token instead", u.Redacted())
	}
	return nil
}

// retryLogger routes go-retryablehttp's own messages to the debug level: the callers log the
// outcome of each call once.
type retryLogger struct{ log *slog.Logger }

func (l retryLogger) Error(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l retryLogger) Warn(msg string, kv ...any)  { l.log.Debug(msg, kv...) }
func (l retryLogger) Info(msg string, kv ...any)  { l.log.Debug(msg, kv...) }
func (l retryLogger) Debug(msg string, kv ...any) { l.log.Debug(msg, kv...) }

// TLSConfig returns the TLS settings of a client: the system roots, or only caFile's.
func TLSConfig(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} // opt-in (--argocd-insecure), documented
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file %s: %w", caFile, errors.Unwrap(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// StatusError is an answer with an unexpected status code.
type StatusError struct {
	Target string
	Method string
	Path   string
	Code   int
	// Message is the start of the answer's body (at most 200 bytes, one line).
	Message string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s %s: HTTP %d", e.Target, e.Method, e.Path, e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Call is one request of a JSON API.
type Call struct {
	Target string
	Method string
	URL    string
	// Path names the call in messages (no query).
	Path string
	// Token, when set, is sent as a bearer token.
	Token       secret.Secret
	Body        []byte
	ContentType string
	Headers     map[string]string
	// MaxBytes bounds the answer decoded (0: DefaultMaxResponse); a longer one is a
	// *TooLargeError.
	MaxBytes int64
}

// Do runs c with client and decodes a 2xx answer into out (when not nil). Any other status
// is a *StatusError; transport failures (after the retries) are wrapped errors.
func (c Call) Do(ctx context.Context, client *retryablehttp.Client, out any) error {
	var body any
	if c.Body != nil {
		body = c.Body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", c.Target, c.Method, c.Path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "dynamo-cmp-serve")
	if c.Body != nil {
		ct := c.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	if c.Token != nil {
		tok, err := c.Token.Value()
		if err != nil {
			return fmt.Errorf("%s token: %w", c.Target, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s %s: %w", c.Target, c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		msg := "a redirect, not followed (the token and body go only to the configured URL): point the URL at the final address"
		if loc, err := resp.Location(); err == nil {
			msg = "a redirect to " + loc.Scheme + "://" + loc.Host + ", not followed (the token and body go only to the configured URL): point the URL at the final address"
		}
		return &StatusError{Target: c.Target, Method: c.Method, Path: c.Path, Code: resp.StatusCode, Message: msg}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		msg := strings.Join(strings.Fields(string(snippet)), " ")
		return &StatusError{Target: c.Target, Method: c.Method, Path: c.Path, Code: resp.StatusCode, Message: msg}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxResponse
	}
	// Decoded as it arrives (the answer is never held whole: only what out keeps of it), one
	// byte past the limit read to tell a long answer from one of exactly the limit.
	rd := &countingReader{r: io.LimitReader(resp.Body, limit+1)}
	dec := json.NewDecoder(rd)
	err = dec.Decode(out)
	if err == nil {
		// What follows the JSON value must be white space only; read it to the limit.
		_, err = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), rd))
	}
	if rd.n > limit {
		return &TooLargeError{Target: c.Target, Method: c.Method, Path: c.Path, Limit: limit}
	}
	if err != nil {
		return fmt.Errorf("%s %s %s: the answer is not the expected JSON: %w", c.Target, c.Method, c.Path, err)
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
