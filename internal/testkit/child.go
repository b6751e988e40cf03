package testkit

import "os/exec"

// StartChild starts cmd so that the kernel kills it (SIGKILL) when this process dies, however
// it dies: a test timeout, a panic, the fuzz coordinator killing a worker, `kill -9`. Every
// server a test starts goes through it, so none outlives the test binary. The guarantee holds
// for cmd's own process only (a parent-death signal is not inherited by its children): a
// script that starts a server must exec it. On systems other than Linux the server is stopped
// by the test's cleanup only.
func StartChild(cmd *exec.Cmd) error { return startChild(cmd) }
