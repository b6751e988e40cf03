package harness

import (
	"context"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startAPIServerOnly starts argocd-server alone (ArgoCDOptions.APIServerOnly): no CMP
// sidecar, repo-server or controller, so the Applications created in Kube keep the status they
// were created with (the serve fleet benchmark, serve_fleet_bench_test.go). argocd-server is
// given the address of a repo-server that does not run; it needs none to list Applications.
// It returns once the server answers and the CLI is logged in as admin.
func (a *ArgoCD) startAPIServerOnly(t testing.TB, kube *KubeAPI, start time.Time) {
	t.Helper()
	a.RepoServerAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	srvPort, srvMetrics := freePort(t), freePort(t)
	a.ServerAddr = "127.0.0.1:" + strconv.Itoa(srvPort)
	a.URL = "http://" + a.ServerAddr
	sp := a.start(t, ArgoAPIServer, a.baseEnv(t, ArgoAPIServer, false),
		"--insecure", "--address", "127.0.0.1", "--port", strconv.Itoa(srvPort),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(srvMetrics),
		"--redis", a.redis.Addr, "--repo-server", a.RepoServerAddr,
		"--dex-server", "http://127.0.0.1:1", "--loglevel", "warn")
	if err := waitFor(sp, 90*time.Second, 100*time.Millisecond, func() bool { return httpOK(a.URL + "/healthz") }); err != nil {
		t.Fatalf("harness: %s: %v", sp.name, err)
	}
	if err := waitFor(sp, 60*time.Second, 100*time.Millisecond, func() bool {
		s, err := kube.Clientset.CoreV1().Secrets(a.Namespace).Get(context.Background(), "argocd-initial-admin-secret", metav1.GetOptions{})
		if err != nil {
			return false
		}
		a.AdminPassword = string(s.Data["password"])
		return a.AdminPassword != ""
	}); err != nil {
		t.Fatalf("harness: argocd-initial-admin-secret: %v", err)
	}
	a.cliConfig = a.dir + "/cli-config"
	if out, errOut, err := a.CLI(t, "login", a.ServerAddr, "--username", "admin", "--password", a.AdminPassword); err != nil {
		t.Fatalf("harness: argocd login: %v\n%s%s", err, out, errOut)
	}
	t.Logf("harness: argocd-server %s alone at %s ready in %s", ArgoCDVersion(), a.URL, time.Since(start).Round(time.Millisecond))
}
