package faultproxy

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what the proxy does with a request.
type Kind int

// The kinds of fault.
const (
	// Pass forwards the request and its answer unchanged.
	Pass Kind = iota
	// Delay waits Fault.Delay, then forwards (added latency; longer than the client's
	// deadline it is a response slower than the deadline).
	Delay
	// Reset closes the connection with a TCP RST without answering.
	Reset
	// ServerError answers Fault.Status (5xx) with the body AWS's front end sends for it.
	ServerError
	// Throttle answers HTTP 400 with a DynamoDB throttling error (Fault.Code).
	Throttle
	// CutBody forwards the request, then sends the real status line and headers (with the
	// full Content-Length) and only part of the body, and closes the connection: a server
	// that stops mid-stream.
	CutBody
	// SlowBody forwards the request, sends the headers and part of the body at once, waits
	// Fault.Delay, then sends the rest.
	SlowBody
	// Hang reads the request and never answers; the connection is closed when the client
	// gives up or the proxy closes.
	Hang
)

var kindNames = [...]string{"pass", "delay", "reset", "server-error", "throttle", "cut-body", "slow-body", "hang"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// DynamoDB error codes the proxy can answer with.
const (
	ProvisionedThroughputExceeded = "ProvisionedThroughputExceededException"
	ThrottlingException           = "ThrottlingException"
	RequestLimitExceeded          = "RequestLimitExceeded"
)

// errorTypePrefix is how DynamoDB qualifies the __type of its JSON errors.
const errorTypePrefix = "com.amazonaws.dynamodb.v20120810#"

// Fault is one programmed misbehaviour. Build it with the functions below.
type Fault struct {
	Kind Kind
	// Delay is the wait of Delay and SlowBody.
	Delay time.Duration
	// Status is the HTTP status of ServerError.
	Status int
	// Code is the DynamoDB error code of Throttle (a bare code such as
	// "ThrottlingException", or a full __type such as
	// "com.amazon.coral.availability#ThrottlingException").
	Code string
	// Keep is the number of body bytes CutBody and SlowBody send first; 0 means half.
	Keep int
}

func (f Fault) String() string {
	switch f.Kind {
	case Delay, SlowBody:
		return fmt.Sprintf("%s %s", f.Kind, f.Delay)
	case ServerError:
		return fmt.Sprintf("%s %d", f.Kind, f.Status)
	case Throttle:
		return fmt.Sprintf("%s %s", f.Kind, f.Code)
	}
	return f.Kind.String()
}

// Forward passes the request on unchanged (a rule with it lets the first requests through).
func Forward() Fault { return Fault{Kind: Pass} }

// Latency forwards after waiting d.
func Latency(d time.Duration) Fault { return Fault{Kind: Delay, Delay: d} }

// ResetConnection closes the connection with a TCP RST before any answer.
func ResetConnection() Fault { return Fault{Kind: Reset} }

// Status answers with an HTTP 5xx status: 500 and 503 with DynamoDB's JSON error body
// (InternalServerError, ServiceUnavailable), other statuses with the HTML page a load
// balancer sends.
func Status(status int) Fault { return Fault{Kind: ServerError, Status: status} }

// Throttled answers HTTP 400 with the DynamoDB throttling error code (see the constants).
func Throttled(code string) Fault { return Fault{Kind: Throttle, Code: code} }

// Truncate sends the real headers and the first half of the real body, then closes the
// connection.
func Truncate() Fault { return Fault{Kind: CutBody} }

// Slow sends the real headers and the first half of the real body at once and the rest
// after d.
func Slow(d time.Duration) Fault { return Fault{Kind: SlowBody, Delay: d} }

// NoAnswer reads the request and never answers.
func NoAnswer() Fault { return Fault{Kind: Hang} }

// Rule says which requests get a fault.
type Rule struct {
	Fault Fault
	// Op limits the rule to one DynamoDB operation ("Query", "BatchGetItem"); empty matches
	// every DynamoDB request.
	Op string
	// Times is the number of matching requests the rule applies to (the first ones); 0 means
	// every matching request.
	Times int
}

// Always applies f to every request.
func Always(f Fault) Rule { return Rule{Fault: f} }

// First applies f to the first n requests.
func First(n int, f Fault) Rule { return Rule{Fault: f, Times: n} }

// On limits the rule to the DynamoDB operation op.
func (r Rule) On(op string) Rule { r.Op = op; return r }

func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Fault.String())
	if r.Times > 0 {
		fmt.Fprintf(&b, " for the first %d", r.Times)
	} else {
		b.WriteString(" for every")
	}
	if r.Op != "" {
		fmt.Fprintf(&b, " %s", r.Op)
	}
	b.WriteString(" request")
	if r.Times != 1 {
		b.WriteString("s")
	}
	return b.String()
}
