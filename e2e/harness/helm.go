package harness

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	helmBinOnce sync.Once
	helmBinDir  string
	helmBinErr  error
)

// HelmBinDir returns the directory holding the `helm` binary Argo CD's repo-server runs for
// Helm sources: the version the Argo CD of this test binary ships in its image (its module's
// hack/tool-versions.sh: helm v4.3.2 for v3.6.2, v4.2.1 for v3.5.8), built by
// e2e/helmbin/build.sh -modfile GoModFile into a cache dir of its own per helm version (a
// no-op when up to date). Put it on the repo-server's PATH with ArgoCDOptions.RepoServerPath,
// as the Argo CD image has it in /usr/local/bin.
func HelmBinDir(t testing.TB) string {
	t.Helper()
	helmBinOnce.Do(func() {
		helmBinDir, helmBinErr = runBuildScript(t, "helm", exec.Command(filepath.Join(RepoRoot(t), "e2e", "helmbin", "build.sh"), "-modfile", GoModFile(t)))
	})
	if helmBinErr != nil {
		t.Fatalf("harness: building helm: %v", helmBinErr)
	}
	if !fileExists(filepath.Join(helmBinDir, "helm")) {
		t.Fatalf("harness: helm missing in %s", helmBinDir)
	}
	return helmBinDir
}
