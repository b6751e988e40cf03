package e2e

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

// The tests run in parallel (as many at once as GOMAXPROCS, 2 here), so the long full-loop
// TestArgoCDLoop runs beside the others (its file sorts first, so it starts first); TestOCISourceBootstrap does not, as it puts a
// failing git first on this process's PATH, which every Argo CD component started meanwhile
// would inherit. What the tests share in-process (the plugin socket variable, the builds) is
// guarded in the harness.
//
// TestMain lets the test binary re-execute itself as argocd-cmp-server and as the helper
// programs the tests register.
func TestMain(m *testing.M) {
	registerSmokeHelpers()
	harness.Main(m)
}
