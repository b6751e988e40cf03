package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RequestIDPrefix starts the x-amzn-RequestId of every answer the proxy makes up, so tests
// can check that no request id reaches a user.
const RequestIDPrefix = "FAULTPROXYREQ"

// maxRequestBody bounds a request body the proxy reads (DynamoDB's own limit is 16 MB).
const maxRequestBody = 32 << 20

// Record is one request the proxy received.
type Record struct {
	// At is when the request's headers had arrived.
	At time.Time
	// Op is the DynamoDB operation ("Query"); for anything else (an instance metadata
	// probe, say) it is "METHOD /path".
	Op string
	// Fault is what the proxy did with it (Pass when it forwarded it unchanged).
	Fault Kind
}

// Proxy is a fault-injecting reverse proxy. It is safe for concurrent use.
type Proxy struct {
	target   *url.URL
	listener net.Listener
	server   *http.Server
	client   *http.Client
	closing  chan struct{}
	closed   sync.Once
	active   sync.WaitGroup
	ids      atomic.Int64

	mu    sync.Mutex
	rules []activeRule
	log   []Record
}

type activeRule struct {
	Rule
	used int
}

// New starts a proxy on a free 127.0.0.1 port in front of target (http://127.0.0.1:PORT or
// another loopback URL). Close stops it.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if u.Scheme != "http" || !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("faultproxy: target %q: only http:// loopback endpoints are proxied", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{
		target:   u,
		listener: ln,
		closing:  make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	p.server = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.server.Serve(ln) }()
	return p, nil
}

// Start is New for tests: it fails tb on error and closes the proxy when tb ends.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// URL is the proxy's endpoint, http://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "http://" + p.listener.Addr().String() }

// Close stops the proxy: it closes its listener and every connection, ends the requests it
// holds (Hang, Delay) and waits for its handlers to return.
func (p *Proxy) Close() error {
	var err error
	p.closed.Do(func() {
		close(p.closing)
		err = p.server.Close()
		p.active.Wait()
		p.client.CloseIdleConnections()
	})
	return err
}

// Inject replaces the rules. For each request the first rule that matches it and has not
// been used up applies; a request no rule matches is forwarded unchanged.
func (p *Proxy) Inject(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = p.rules[:0]
	for _, r := range rules {
		p.rules = append(p.rules, activeRule{Rule: r})
	}
}

// Clear removes every rule: requests are forwarded unchanged.
func (p *Proxy) Clear() { p.Inject() }

// ClearLog forgets the requests received so far (the counters start again at zero).
func (p *Proxy) ClearLog() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = nil
}

// Log returns the requests received so far, in order of arrival.
func (p *Proxy) Log() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.log...)
}

// Requests returns the number of requests received.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// Calls returns the number of requests of the DynamoDB operation op.
func (p *Proxy) Calls(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.log {
		if r.Op == op {
			n++
		}
	}
	return n
}

// Injected returns the number of requests that got a fault.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.log {
		if r.Fault != Pass {
			n++
		}
	}
	return n
}

// Foreign returns the requests that were not DynamoDB API calls (they are answered 404 and
// never forwarded).
func (p *Proxy) Foreign() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Record
	for _, r := range p.log {
		if strings.Contains(r.Op, " ") {
			out = append(out, r)
		}
	}
	return out
}

// FirstRequest returns when the first request arrived (zero if none has).
func (p *Proxy) FirstRequest() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.log) == 0 {
		return time.Time{}
	}
	return p.log[0].At
}

// Summary describes the traffic: "7 requests (BatchGetItem=2 Query=5), 3 with faults".
func (p *Proxy) Summary() string {
	log := p.Log()
	ops := map[string]int{}
	var names []string
	faults := 0
	for _, r := range log {
		if ops[r.Op] == 0 {
			names = append(names, r.Op)
		}
		ops[r.Op]++
		if r.Fault != Pass {
			faults++
		}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, ops[n])
	}
	return fmt.Sprintf("%d requests (%s), %d with faults", len(log), strings.Join(parts, " "), faults)
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.active.Add(1)
	defer p.active.Done()
	at := time.Now()
	op := operation(r)
	if op == "" {
		p.record(Record{At: at, Op: r.Method + " " + r.URL.Path})
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		p.record(Record{At: at, Op: op})
		return
	}
	f := p.match(op)
	p.record(Record{At: at, Op: op, Fault: f.Kind})

	switch f.Kind {
	case Delay:
		if f.Delay > 0 && !p.wait(r.Context(), f.Delay) {
			return
		}
		p.forward(w, r, body)
	case Reset:
		p.hijack(w, func(c net.Conn) { resetConn(c) })
	case ServerError:
		p.writeError(w, f.Status, serverErrorBody(f.Status))
	case Throttle:
		p.writeError(w, http.StatusBadRequest, throttleBody(f.Code))
	case CutBody, SlowBody:
		resp, rbody, err := p.roundTrip(r, body)
		if err != nil {
			p.hijack(w, func(c net.Conn) { resetConn(c) })
			return
		}
		keep := f.Keep
		if keep <= 0 || keep > len(rbody) {
			keep = len(rbody) / 2
		}
		p.hijack(w, func(c net.Conn) {
			if _, err := c.Write(append(responseHead(resp, len(rbody)), rbody[:keep]...)); err != nil {
				return
			}
			if f.Kind == CutBody {
				return // close: a server that stopped mid-stream
			}
			if p.wait(r.Context(), f.Delay) {
				_, _ = c.Write(rbody[keep:])
			}
		})
	case Hang:
		p.wait(r.Context(), 0)
		p.hijack(w, func(c net.Conn) {})
	default:
		p.forward(w, r, body)
	}
}

func (p *Proxy) record(rec Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, rec)
}

// match finds the fault for a request of op and uses up one application of its rule.
func (p *Proxy) match(op string) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.rules {
		r := &p.rules[i]
		if r.Op != "" && r.Op != op {
			continue
		}
		if r.Times > 0 && r.used >= r.Times {
			continue
		}
		r.used++
		return r.Fault
	}
	return Fault{Kind: Pass}
}

// wait waits d (forever when d is 0) and reports whether the request is still wanted: false
// when the client went away or the proxy is closing.
func (p *Proxy) wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
		return false
	case <-p.closing:
		return false
	}
}

// roundTrip sends the request to the target and reads the whole answer.
func (p *Proxy) roundTrip(r *http.Request, body []byte) (*http.Response, []byte, error) {
	u := *p.target
	u.Path = r.URL.Path
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	// The client signed the request for the proxy's host; keep it as it was signed.
	out.Host = r.Host
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	rbody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, rbody, nil
}

// forward relays the request and its answer unchanged.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, rbody, err := p.roundTrip(r, body)
	if err != nil {
		if r.Context().Err() == nil {
			http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		}
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(rbody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(rbody)
}

// writeError answers with an error made up by the proxy, with the headers DynamoDB sends.
func (p *Proxy) writeError(w http.ResponseWriter, status int, e errorBody) {
	h := w.Header()
	h.Set("Content-Type", e.contentType)
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	h.Set("x-amzn-RequestId", fmt.Sprintf("%s%019d", RequestIDPrefix, p.ids.Add(1)))
	if e.contentType == amzJSON {
		h.Set("x-amz-crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(e.body)), 10))
	}
	w.WriteHeader(status)
	_, _ = w.Write(e.body)
}

// hijack takes the connection over from the HTTP server, runs fn on it and closes it.
func (p *Proxy) hijack(w http.ResponseWriter, fn func(net.Conn)) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fn(c)
}

// resetConn makes the close send a TCP RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

// responseHead is the status line and headers of resp, announcing length body bytes.
func responseHead(resp *http.Response, length int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	for k, vs := range resp.Header {
		if hopByHop(k) || http.CanonicalHeaderKey(k) == "Content-Length" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	return b.Bytes()
}

const amzJSON = "application/x-amz-json-1.0"

type errorBody struct {
	contentType string
	body        []byte
}

func jsonError(typ, message string) errorBody {
	return errorBody{amzJSON, []byte(fmt.Sprintf(`{"__type":%q,"message":%q}`, typ, message))}
}

// throttleBody is DynamoDB's answer for a throttling code.
func throttleBody(code string) errorBody {
	typ := code
	if !strings.Contains(typ, "#") {
		typ = errorTypePrefix + typ
	}
	msg := "Rate of requests exceeds the allowed throughput."
	switch code {
	case ProvisionedThroughputExceeded:
		msg = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
	case RequestLimitExceeded:
		msg = "Throughput exceeds the current throughput limit for your account. Please contact AWS Support at https://aws.amazon.com/support request a limit increase"
	}
	return jsonError(typ, msg)
}

// serverErrorBody is what AWS answers with a 5xx status: DynamoDB's JSON for 500 and 503,
// a load balancer's HTML page otherwise.
func serverErrorBody(status int) errorBody {
	switch status {
	case http.StatusInternalServerError:
		return jsonError(errorTypePrefix+"InternalServerError", "Internal server error")
	case http.StatusServiceUnavailable:
		return jsonError("com.amazon.coral.availability#ServiceUnavailableException", "Service Unavailable")
	}
	text := http.StatusText(status)
	return errorBody{"text/html", []byte(fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n", status, text, status, text))}
}

// operation is the DynamoDB operation of r (X-Amz-Target: DynamoDB_20120810.Query), or ""
// when r is not a DynamoDB API call.
func operation(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || !strings.HasPrefix(target, "DynamoDB_") {
		return ""
	}
	_, op, ok := strings.Cut(target, ".")
	if !ok || op == "" {
		return ""
	}
	return op
}

func hopByHop(header string) bool {
	switch http.CanonicalHeaderKey(header) {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
