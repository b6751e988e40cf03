package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	dynamoCmpOnce sync.Once
	dynamoCmpDir  string
	dynamoCmpErr  error
)

// BuildDynamoCmp builds the product binary with ../scripts/build.sh (the build the image
// ships: static, stripped, version "e2e") once per test process and
// returns the directory holding it as "dynamo-cmp" — put that directory on the PATH of the
// cmp-server (see PathWith), since plugin/plugin.yaml runs the bare name. The directory is
// removed after all tests (see Main).
func BuildDynamoCmp(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	dynamoCmpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dynamo-cmp-bin-")
		if err != nil {
			dynamoCmpErr = err
			return
		}
		onProcessExit(func() { _ = os.RemoveAll(dir) })
		start := time.Now()
		fmt.Fprintf(os.Stderr, "harness: building dynamo-cmp with %s/scripts/build.sh (the build the image carries)\n", root)
		cmd := exec.Command(filepath.Join(root, "scripts", "build.sh"), filepath.Join(dir, "dynamo-cmp"), "e2e")
		cmd.Dir = root
		if _, err := runLogged(t, "go build: ", cmd); err != nil {
			dynamoCmpErr = err
			return
		}
		t.Logf("harness: built dynamo-cmp in %s", time.Since(start).Round(time.Millisecond))
		dynamoCmpDir = dir
	})
	if dynamoCmpErr != nil {
		t.Fatalf("harness: building dynamo-cmp: %v", dynamoCmpErr)
	}
	return dynamoCmpDir
}

// DynamoCmpPath returns the path of the product binary built by BuildDynamoCmp.
func DynamoCmpPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(BuildDynamoCmp(t), "dynamo-cmp")
}

// PathWith returns a "PATH=..." environment entry with dirs in front of this process's PATH.
func PathWith(dirs ...string) string {
	parts := append([]string{}, dirs...)
	if p := os.Getenv("PATH"); p != "" {
		parts = append(parts, p)
	}
	return "PATH=" + strings.Join(parts, string(os.PathListSeparator))
}

// RunDynamoCmp runs the product binary (built by BuildDynamoCmp) with args and an environment
// of PATH, HOME and TMPDIR of the test process plus env (e.g. DynamoEnv), and returns its
// stdout, its stderr and the error of the run (an *exec.ExitError for a non-zero exit).
func RunDynamoCmp(t testing.TB, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(DynamoCmpPath(t), args...)
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
