package harness

import (
	"strconv"
	"testing"
	"time"
)

// startAPIServerOnly starts argocd-server alone (ArgoCDOptions.APIServerOnly): no CMP
// sidecar, repo-server or controller, so the Applications created in Kube keep the status they
// were created with (the serve fleet benchmark, serve_fleet_bench_test.go). argocd-server is
// given the address of a repo-server that does not run; it needs none to list Applications.
// It returns once the server answers and the CLI is logged in as admin.
func (a *ArgoCD) startAPIServerOnly(t testing.TB, kube *KubeAPI, start time.Time) {
	t.Helper()
	a.RepoServerAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	sp := a.startAPIServer(t, "warn")
	if err := waitFor(sp, 90*time.Second, 100*time.Millisecond, func() bool { return httpOK(a.URL + "/healthz") }); err != nil {
		t.Fatalf("harness: %s: %v", sp.name, err)
	}
	a.loginAsAdmin(t, kube, sp)
	t.Logf("harness: argocd-server %s alone at %s ready in %s", ArgoCDVersion(), a.URL, time.Since(start).Round(time.Millisecond))
}
