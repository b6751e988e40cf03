package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Headers of a signed webhook event.
const (
	// TimestampHeader carries the time of the delivery attempt in Unix seconds.
	TimestampHeader = "X-Dynamo-Cmp-Timestamp"
	// SignatureHeader carries one "v1=<hex>" per signing secret, comma-separated.
	SignatureHeader = "X-Dynamo-Cmp-Signature"
	// SignatureScheme names the signature: HMAC-SHA256 of "<timestamp>.<body>".
	SignatureScheme = "v1"
)

// Sign returns the value of the signature header for one delivery: for each secret, in the
// order given, "v1=" and the hex HMAC-SHA256, keyed with the secret, of the timestamp, a dot
// and the body exactly as sent. Two secrets during a rotation give two signatures, so a
// receiver holding either one verifies the event.
func Sign(timestamp string, body []byte, secrets ...string) string {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write([]byte(timestamp))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs = append(sigs, SignatureScheme+"="+hex.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, ",")
}

// Verify reports whether the signature header holds a valid signature of timestamp and body
// by secret, compared in constant time. It is what a receiver does (docs/serve.md); the
// receiver also refuses timestamps too far from its clock, which stops replays.
func Verify(header, timestamp string, body []byte, secret string) bool {
	want := Sign(timestamp, body, secret)
	ok := false
	for _, got := range strings.Split(header, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			ok = true
		}
	}
	return ok
}
