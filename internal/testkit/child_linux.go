package testkit

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// The kernel sends the parent-death signal when the *thread* that forked the child exits,
// not the process (prctl(2), PR_SET_PDEATHSIG). Go moves goroutines between threads and ends
// a thread when a goroutine locked to it returns, so a child forked from an arbitrary
// goroutine can be killed in the middle of a test. Every child is therefore forked by one
// goroutine locked to its thread that never returns: that thread lives exactly as long as
// the process.
var (
	starterOnce sync.Once
	starts      chan startRequest
)

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startChild(cmd *exec.Cmd) error {
	starterOnce.Do(func() {
		starts = make(chan startRequest)
		go forkThread()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	req := startRequest{cmd: cmd, done: make(chan error, 1)}
	starts <- req
	return <-req.done
}

func forkThread() {
	runtime.LockOSThread() // never unlocked: see above
	for req := range starts {
		req.done <- req.cmd.Start()
	}
}
