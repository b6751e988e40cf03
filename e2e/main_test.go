package e2e

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

// TestMain lets the test binary re-execute itself as argocd-cmp-server and as the helper
// programs the tests register.
func TestMain(m *testing.M) {
	registerSmokeHelpers()
	harness.Main(m)
}
