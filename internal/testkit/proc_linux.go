package testkit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// WaitGone waits until process pid has ended (it no longer exists or is a zombie) and fails
// the test if it still runs after within, naming its command line. It polls; within is a
// bound for a liveness check, not a timing assertion.
func WaitGone(tb testing.TB, pid int, within time.Duration) {
	tb.Helper()
	end := time.Now().Add(within)
	for !processGone(pid) {
		if time.Now().After(end) {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			tb.Fatalf("process %d (%s) still runs %s after its parent died", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '}), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs: no such process, or a zombie waiting for
// whoever adopted it to reap it.
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses; the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}
