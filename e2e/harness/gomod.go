package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// The e2e module runs its one set of test sources against two Argo CD versions: go.mod
// requires the current release (`make test`), compat/go.mod the previous minor
// (`make e2e-compat`, i.e. `go test -modfile=compat/go.mod ./...`). The test binary knows
// which from its build info; every go command the harness runs in this module (module
// downloads, Argo CD's binary build) names the same go.mod, and Argo CD's binary is cached
// per version (argocdbin/build.sh).

// ArgoCDVersion returns the version of Argo CD's Go module this test binary is built against
// ("v3.6.2" with go.mod, "v3.5.8" with compat/go.mod), or "" when the binary carries no
// module information.
func ArgoCDVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == argoModulePath {
			return d.Version
		}
	}
	return ""
}

var (
	goModOnce sync.Once
	goModFile string
	goModErr  error
)

// GoModFile returns the go.mod of the e2e module, relative to e2e/, that requires the Argo CD
// version this test binary is built against: "go.mod", or "compat/go.mod" for a binary built
// with -modfile=compat/go.mod.
func GoModFile(t testing.TB) string {
	t.Helper()
	goModOnce.Do(func() {
		want := ArgoCDVersion()
		e2e := filepath.Join(RepoRoot(t), "e2e")
		files, _ := filepath.Glob(filepath.Join(e2e, "*", "go.mod"))
		var seen []string
		for _, f := range append([]string{filepath.Join(e2e, "go.mod")}, files...) {
			v, err := requiredVersion(f, argoModulePath)
			if err != nil {
				goModErr = err
				return
			}
			if v == "" {
				continue
			}
			rel, _ := filepath.Rel(e2e, f)
			if v == want {
				goModFile = rel
				return
			}
			seen = append(seen, rel+": "+v)
		}
		goModErr = fmt.Errorf("this test binary is built against Argo CD %q, which no go.mod of the e2e module requires (%s)", want, strings.Join(seen, ", "))
	})
	if goModErr != nil {
		t.Fatalf("harness: %v", goModErr)
	}
	return goModFile
}

// ArgoCDVersionOf returns the version of Argo CD that gomod (relative to e2e/) requires.
func ArgoCDVersionOf(t testing.TB, gomod string) string {
	t.Helper()
	v, err := requiredVersion(filepath.Join(RepoRoot(t), "e2e", gomod), argoModulePath)
	if err != nil || v == "" {
		t.Fatalf("harness: the version of %s in e2e/%s: %v", argoModulePath, gomod, err)
	}
	return v
}

// modFileFlags returns the flags that make a go command in the e2e module use the go.mod
// this test binary is built against (none for go.mod).
func modFileFlags(t testing.TB) []string {
	t.Helper()
	if f := GoModFile(t); f != "go.mod" {
		return []string{"-modfile=" + f}
	}
	return nil
}

// requiredVersion returns the version a go.mod file requires of module path ("" when none).
func requiredVersion(file, path string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == path {
			return fields[1], nil
		}
	}
	return "", sc.Err()
}

// undoGoTestPath gives the go commands this process runs (builds of the product, the registry,
// kube-apiserver) the toolchain their own module selects, as from a shell. When the e2e
// module's go.mod switched the go command to a newer toolchain (Argo CD 3.6 needs Go 1.27),
// `go test` ran this binary with GOROOT set to that toolchain and its bin directory first on
// PATH: every go command would run it, building the product with another Go than it ships
// with and invalidating caches keyed by the Go version (e2e/buildcache.sh). The e2e module's
// own go commands select the newer toolchain again from its go.mod (GOTOOLCHAIN=auto).
func undoGoTestPath() {
	goroot := os.Getenv("GOROOT")
	if goroot == "" {
		return
	}
	bin := filepath.Join(goroot, "bin")
	parts := filepath.SplitList(os.Getenv("PATH"))
	if len(parts) < 2 || filepath.Clean(parts[0]) != bin {
		return
	}
	rest := strings.Join(parts[1:], string(os.PathListSeparator))
	gobin, err := lookPathIn("go", rest)
	if err != nil || filepath.Dir(gobin) == bin {
		return // no other go on PATH: keep the one go test runs
	}
	_ = os.Setenv("PATH", rest)
	_ = os.Unsetenv("GOROOT")
	_ = os.Setenv("GOTOOLCHAIN", "auto")
}

// lookPathIn is exec.LookPath over the directories of path.
func lookPathIn(file, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}
