//go:build unix

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

// fifo makes a named pipe nobody writes to; the cleanup opens it for writing once, so a
// reader still blocked on it is released.
func fifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layers.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return path
}

// TestRenderFromFIFOHonoursCancel: render -f on a FIFO nobody writes to returns, non-zero
// and with nothing on stdout, when its context ends.
func TestRenderFromFIFOHonoursCancel(t *testing.T) {
	path := fifo(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"render", "-f", path, "--cluster", "dev-k3s"}, cli.Env{})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code == 0 || out.Len() != 0 || !strings.Contains(errOut.String(), "reading the layer files was interrupted") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("render still blocked on the FIFO 10 s after its context was canceled")
	}
}

// TestRenderFromFIFOStopsOnSignal: the process, blocked opening a FIFO, exits promptly and
// non-zero on SIGTERM and on SIGINT (it used to take kill -9).
func TestRenderFromFIFOStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			path := fifo(t)
			cmd := exec.Command(os.Args[0], "render", "-f", path, "--cluster", "dev-k3s")
			cmd.Env = []string{execCLI + "=1"}
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			time.Sleep(500 * time.Millisecond) // into the blocking open
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-waited:
				var exitErr *exec.ExitError
				if !errors.As(err, &exitErr) || exitErr.ExitCode() <= 0 || out.Len() != 0 {
					t.Errorf("after %s: %v (want a non-zero exit), stdout %q, stderr %q", sig, err, out.String(), errOut.String())
				}
				t.Logf("after %s: %v: %s", sig, err, strings.TrimSpace(errOut.String()))
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
				t.Fatalf("render still running 10 s after %s", sig)
			}
		})
	}
}
