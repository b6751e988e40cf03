package harness

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runBuildScript runs one of the e2e binary build scripts (argocdbin, kubebin, helmbin: a
// no-op when its cache is up to date, waiting for a build in progress) and returns the
// directory it prints; a build that took a while is logged, naming what.
func runBuildScript(t testing.TB, what string, cmd *exec.Cmd) (string, error) {
	start := time.Now()
	out, err := runLogged(t, "", cmd)
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("harness: %s ready in %s after %s", what, dir, d.Round(time.Second))
	}
	return dir, nil
}
