// Package traceid makes the random ids that name one run, one automatic rollback or one
// audit record in logs, audit items and errors.
package traceid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns 16 random hex digits.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24)
	return hex.EncodeToString(b[:])
}
