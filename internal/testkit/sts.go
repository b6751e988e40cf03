package testkit

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// FakeSTS answers STS GetCallerIdentity on loopback with a fixed ARN, as AWS STS would
// (the query protocol's XML). STS cannot run locally; this is the one AWS service the tests
// fake. Point the store at it with store.Config.STSEndpoint or AWS_ENDPOINT_URL_STS.
type FakeSTS struct {
	URL string
	// Calls counts the GetCallerIdentity requests answered.
	Calls atomic.Int64
	// Fail, when set, makes every request fail with a 503 (STS unavailable).
	Fail atomic.Bool
}

// NewFakeSTS starts a FakeSTS answering arn; it stops when the test ends.
func NewFakeSTS(tb testing.TB, arn string) *FakeSTS {
	tb.Helper()
	f := &FakeSTS{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "GetCallerIdentity" {
			http.Error(w, "unexpected STS request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		if f.Fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>unavailable</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			return
		}
		f.Calls.Add(1)
		account := "123456789012"
		if parts := strings.Split(arn, ":"); len(parts) > 4 {
			account = parts[4]
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>AIDAEXAMPLE</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
			html.EscapeString(arn), html.EscapeString(account))
	}))
	tb.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}
