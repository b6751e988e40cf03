package dynamolocal

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// A descriptor the test process inherited without close-on-exec (as a fuzz worker inherits
// its coordinator's pipes) must not stay open in the DynamoDB Local it starts: the reader of
// that pipe sees end of file once the test process closes its end.
func TestServerHoldsNoInheritedDescriptor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Clear FD_CLOEXEC: what the fuzz coordinator's ExtraFiles look like inside a worker.
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), syscall.F_SETFD, 0); errno != 0 {
		t.Fatalf("fcntl: %v", errno)
	}
	s, err := start()
	if s != nil {
		defer func() {
			if err := s.stop(); err != nil {
				t.Error(err)
			}
		}()
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	// A bound for a liveness check, not a timing assertion: EOF is immediate when nobody else
	// holds the write end, and never comes while the server does.
	if err := r.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("reading the pipe after closing its write end: %v; want EOF (the server still holds the inherited descriptor)", err)
	}
}
