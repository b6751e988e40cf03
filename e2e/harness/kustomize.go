package harness

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	kustomizeBinOnce sync.Once
	kustomizeBinDir  string
	kustomizeBinErr  error
)

// KustomizeBinDir returns the directory holding the `kustomize` binary Argo CD's repo-server
// runs for kustomize sources (Argo CD's native kustomize): the version the Argo CD of this
// test binary ships in its image (its module's hack/tool-versions.sh: v5.8.3 for v3.6.2,
// v5.8.1 for v3.5.8), built by e2e/kustomizebin/build.sh -modfile GoModFile (a no-op when up
// to date). Put it on the repo-server's PATH with ArgoCDOptions.RepoServerPath.
func KustomizeBinDir(t testing.TB) string {
	t.Helper()
	kustomizeBinOnce.Do(func() {
		kustomizeBinDir, kustomizeBinErr = runBuildScript(t, "kustomize", exec.Command(filepath.Join(RepoRoot(t), "e2e", "kustomizebin", "build.sh"), "-modfile", GoModFile(t)))
	})
	if kustomizeBinErr != nil {
		t.Fatalf("harness: building kustomize: %v", kustomizeBinErr)
	}
	if !fileExists(filepath.Join(kustomizeBinDir, "kustomize")) {
		t.Fatalf("harness: kustomize missing in %s", kustomizeBinDir)
	}
	return kustomizeBinDir
}
