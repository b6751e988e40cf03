//go:build linux

package shiptest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// sandboxEnv names the variable that makes the test binary act as the sandbox (TestMain).
const sandboxEnv = "SHIPCHECK_SANDBOX"

// sandboxSpec is what the sandbox runs: argv from root as uid:gid 999:999, with env and dir.
type sandboxSpec struct {
	Root   string
	Argv   []string
	Env    []string
	Dir    string
	Result string
}

// sandboxResult is what the sandbox reports.
type sandboxResult struct {
	Code           int
	Stdout, Stderr string
	// RootReadOnly is the error a write to the root got (EROFS expected).
	RootReadOnly string
	// TmpFiles are the files left in /tmp after the run.
	TmpFiles []string
	// SetupErr says the sandbox could not be set up (no privileges for mounts); Err that the
	// command could not be started in it.
	SetupErr, Err string
}

// runConfined runs argv from the image layout at root the way the sidecar runs it: in a
// private mount namespace where root is a read-only bind mount with a fresh tmpfs on /tmp,
// chrooted there, as uid and gid 999 with no supplementary groups, with env as its whole
// environment. The test binary itself, re-executed with Unshareflags CLONE_NEWNS, sets this
// up (runSandbox), so nothing outside the namespace ever sees the mounts.
func runConfined(t *testing.T, root string, argv []string, env map[string]string, dir string) (imageRun, error) {
	t.Helper()
	tmp := t.TempDir()
	spec := sandboxSpec{Root: root, Argv: argv, Dir: dir, Result: filepath.Join(tmp, "result.json")}
	for k, v := range env {
		spec.Env = append(spec.Env, k+"="+v)
	}
	data, _ := json.Marshal(spec)
	specFile := filepath.Join(tmp, "spec.json")
	if err := os.WriteFile(specFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		return imageRun{}, err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{sandboxEnv + "=" + specFile}
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	var diag bytes.Buffer
	cmd.Stdout, cmd.Stderr = &diag, &diag
	if err := cmd.Run(); err != nil {
		// Typically EPERM from unshare(CLONE_NEWNS) in a container without CAP_SYS_ADMIN.
		return imageRun{}, fmt.Errorf("sandbox: %v: %s", err, diag.String())
	}
	var res sandboxResult
	data, err = os.ReadFile(spec.Result)
	if err != nil {
		return imageRun{}, err
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return imageRun{}, err
	}
	if res.SetupErr != "" {
		return imageRun{}, errors.New(res.SetupErr)
	}
	if res.Err != "" {
		t.Fatalf("in the image layout as uid 999: %s", res.Err)
	}
	if !errors.Is(errnoOf(res.RootReadOnly), syscall.EROFS) {
		t.Errorf("a write to the image's root did not fail with EROFS: %q", res.RootReadOnly)
	}
	if len(res.TmpFiles) > 0 {
		t.Errorf("the binary left files in /tmp (HOME): %v", res.TmpFiles)
	}
	how := fmt.Sprintf("uid/gid 999 (no groups), chroot into the image layout, root a read-only bind mount (a write there fails: %s), /tmp a fresh tmpfs left empty, cwd %s, environment of %d variables", res.RootReadOnly, dir, len(spec.Env))
	return imageRun{result{Code: res.Code, Stdout: res.Stdout, Stderr: res.Stderr}, how}, nil
}

func errnoOf(msg string) error {
	if msg == syscall.EROFS.Error() {
		return syscall.EROFS
	}
	return errors.New(msg)
}

// runSandbox is the re-executed test binary: it sets the mounts up in its own mount
// namespace, runs the command and writes the result. It returns the process exit code.
func runSandbox(specFile string) int {
	var spec sandboxSpec
	data, err := os.ReadFile(specFile)
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	res := sandbox(spec)
	out, _ := json.Marshal(res)
	if err := os.WriteFile(spec.Result, out, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 2
	}
	return 0
}

func sandbox(spec sandboxSpec) (res sandboxResult) {
	fail := func(what string, err error) sandboxResult {
		return sandboxResult{SetupErr: fmt.Sprintf("%s: %v", what, err)}
	}
	// Go made every mount private in this new namespace already; say it again, to be sure
	// nothing propagates back.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fail("make mounts private", err)
	}
	if err := syscall.Mount(spec.Root, spec.Root, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fail("bind the root", err)
	}
	if err := syscall.Mount("", spec.Root, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
		return fail("remount the root read-only", err)
	}
	tmp := filepath.Join(spec.Root, "tmp")
	if err := syscall.Mount("tmpfs", tmp, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=64m,mode=1777"); err != nil {
		return fail("mount /tmp", err)
	}
	if err := os.WriteFile(filepath.Join(spec.Root, "probe"), []byte("x"), 0o644); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		res.RootReadOnly = err.Error()
	} else {
		res.RootReadOnly = "the write succeeded"
	}

	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{
		Path: spec.Argv[0], Args: spec.Argv, Env: spec.Env, Dir: spec.Dir,
		Stdout: &stdout, Stderr: &stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Chroot:     spec.Root,
			Credential: &syscall.Credential{Uid: 999, Gid: 999, Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	default:
		res.Err = fmt.Sprintf("run %s: %v", spec.Argv[0], err)
		return res
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != tmp {
			res.TmpFiles = append(res.TmpFiles, p)
		}
		return nil
	})
	return res
}
