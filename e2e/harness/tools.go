package harness

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// toolBuild is the build of one tool Argo CD's repo-server runs, once per test binary.
type toolBuild struct {
	once sync.Once
	dir  string
	err  error
}

var toolBuilds = map[string]*toolBuild{"helm": {}, "kustomize": {}}

// HelmBinDir returns the directory holding the `helm` binary Argo CD's repo-server runs for
// Helm sources: the version the Argo CD of this test binary ships in its image (its module's
// hack/tool-versions.sh: helm v4.3.2 for v3.6.2, v4.2.1 for v3.5.8), built by
// e2e/helmbin/build.sh -modfile GoModFile into a cache dir of its own per helm version (a
// no-op when up to date). Put it on the repo-server's PATH with ArgoCDOptions.RepoServerPath,
// as the Argo CD image has it in /usr/local/bin.
func HelmBinDir(t testing.TB) string { return argoCDToolDir(t, "helm") }

// KustomizeBinDir returns the directory holding the `kustomize` binary Argo CD's repo-server
// runs for kustomize sources (Argo CD's native kustomize), as HelmBinDir does for helm
// (v5.8.3 for v3.6.2, v5.8.1 for v3.5.8; e2e/kustomizebin/build.sh).
func KustomizeBinDir(t testing.TB) string { return argoCDToolDir(t, "kustomize") }

// argoCDToolDir runs e2e/<tool>bin/build.sh -modfile GoModFile once per test binary and
// returns the directory holding the tool.
func argoCDToolDir(t testing.TB, tool string) string {
	t.Helper()
	b := toolBuilds[tool]
	b.once.Do(func() {
		script := filepath.Join(RepoRoot(t), "e2e", tool+"bin", "build.sh")
		b.dir, b.err = runBuildScript(t, tool, exec.Command(script, "-modfile", GoModFile(t)))
	})
	if b.err != nil {
		t.Fatalf("harness: building %s: %v", tool, b.err)
	}
	if !fileExists(filepath.Join(b.dir, tool)) {
		t.Fatalf("harness: %s missing in %s", tool, b.dir)
	}
	return b.dir
}
