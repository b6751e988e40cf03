package harness

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// StartChild starts cmd so that the kernel kills it (SIGKILL) when this test process dies,
// however it dies (a test timeout skips cleanups; `kill -9`). Every server the harness
// starts goes through it; a test that starts a long-running process of its own (dynamo-cmp
// serve) uses it too. Only cmd's own process is covered (a parent-death signal is not
// inherited): a script that starts a server must exec it.
//
// The kernel sends the signal when the *thread* that forked the child exits (prctl(2),
// PR_SET_PDEATHSIG), and Go ends a thread when a goroutine locked to it returns (Argo CD's
// and client-go's code run in this process). So every child is forked by one goroutine
// locked to a thread that lives as long as the process. The root module's
// internal/testkit.StartChild does the same; this module does not import the root module
// (its go.mod keys the cached Argo CD build).
func StartChild(cmd *exec.Cmd) error {
	forkOnce.Do(func() {
		forks = make(chan forkRequest)
		go forkThread()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	req := forkRequest{cmd: cmd, done: make(chan error, 1)}
	forks <- req
	return <-req.done
}

var (
	forkOnce sync.Once
	forks    chan forkRequest
)

type forkRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func forkThread() {
	runtime.LockOSThread() // never unlocked: see StartChild
	for req := range forks {
		req.done <- req.cmd.Start()
	}
}
