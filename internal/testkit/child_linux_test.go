package testkit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childHelperEnv makes the test binary, re-executed by TestChildDiesWithItsParent, act as a
// test process that starts a server and then hangs.
const childHelperEnv = "TESTKIT_CHILD_HELPER"

// A child started from a goroutine whose thread then ends keeps running: the kernel's
// parent-death signal follows the thread that forked, and StartChild forks on a thread that
// lives as long as the process.
func TestChildOutlivesTheStartingThread(t *testing.T) {
	type started struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
		tid int
		err error
	}
	ch := make(chan started, 1)
	start := func() {
		// Locked and never unlocked: the runtime ends this thread when the goroutine returns
		// (the main thread it keeps, idle: then try again on another).
		runtime.LockOSThread()
		s := started{tid: syscall.Gettid()}
		if s.tid == syscall.Getpid() {
			ch <- s
			return
		}
		s.cmd = exec.Command("cat")
		s.in, s.err = s.cmd.StdinPipe()
		if s.err == nil {
			var out io.ReadCloser
			out, s.err = s.cmd.StdoutPipe()
			s.out = bufio.NewReader(out)
		}
		if s.err == nil {
			s.err = StartChild(s.cmd)
		}
		ch <- s
	}
	go start()
	s := <-ch
	for s.cmd == nil {
		go start()
		s = <-ch
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	defer func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}()
	// The positive signal: the thread is gone, so a parent-death signal tied to it was sent.
	task := fmt.Sprintf("/proc/self/task/%d", s.tid)
	end := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("thread %d did not end after its locked goroutine returned", s.tid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A killed cat answers end of file instead of the echo.
	if _, err := io.WriteString(s.in, "ping\n"); err != nil {
		t.Fatalf("the child is gone after the thread that started it ended: %v", err)
	}
	line, err := s.out.ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("the child is gone after the thread that started it ended: read %q, %v", line, err)
	}
}

// When a test process is killed (SIGKILL: no cleanup, no deferred call), the servers it
// started with StartChild die with it.
func TestChildDiesWithItsParent(t *testing.T) {
	if os.Getenv(childHelperEnv) == "1" {
		cmd := exec.Command("sleep", "600")
		if err := StartChild(cmd); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		select {} // until killed
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestChildDiesWithItsParent$")
	helper.Env = append(os.Environ(), childHelperEnv+"=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = helper.Process.Kill()
		_ = helper.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the helper's child pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper printed %q, want a pid", line)
	}
	if processGone(pid) {
		t.Fatalf("the helper's child %d is not running", pid)
	}
	t.Cleanup(func() {
		if t.Failed() && !processGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	WaitGone(t, pid, 30*time.Second)
}
