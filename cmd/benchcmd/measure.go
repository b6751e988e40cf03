package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// run is one measured process.
type run struct {
	wall    time.Duration
	start   time.Time
	maxRSS  int64 // bytes; -1 when unknown
	code    int
	stdout  []byte
	stderr  []byte
	userSys time.Duration
}

// timeBin is GNU time. Peak RSS is read through it: the rusage Go's own wait reports is
// useless here, because Go starts children with vfork (CLONE_VM) and Linux carries the
// parent's high-water RSS across exec into the child's ru_maxrss. GNU time forks a small C
// process instead. Its fork and exec (well under a millisecond) count into every wall time
// alike.
var timeBin = func() string {
	if p, err := exec.LookPath("/usr/bin/time"); err == nil {
		return p
	}
	return ""
}()

// measure runs bin args with exactly env, capturing its output as argocd-cmp-server does, and
// returns its wall time (fork/exec to exit), CPU time and peak resident set size.
func measure(ctx context.Context, env []string, bin string, args ...string) (run, error) {
	var rssR, rssW *os.File
	name, argv := bin, args
	if timeBin != "" {
		var err error
		if rssR, rssW, err = os.Pipe(); err != nil {
			return run{}, err
		}
		defer rssR.Close()
		name, argv = timeBin, append([]string{"-f", "%M", "-o", "/dev/fd/3", bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Env = env
	if rssW != nil {
		cmd.ExtraFiles = []*os.File{rssW}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	r := run{wall: wall, start: start, stdout: out.Bytes(), stderr: errOut.Bytes(), maxRSS: -1}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		return r, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		// GNU time's own CPU time is a fraction of a millisecond.
		r.userSys = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if rssW != nil {
		rssW.Close()
		report, _ := io.ReadAll(rssR)
		lines := strings.Split(strings.TrimSpace(string(report)), "\n")
		if kb, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64); err == nil {
			r.maxRSS = kb * 1024
		}
	}
	return r, nil
}

// durations summarises a sample of durations.
type durations []time.Duration

func (d durations) sorted() durations {
	s := append(durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// quantile is the nearest-rank q-quantile (q in [0, 1]).
func (d durations) quantile(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := d.sorted()
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2]
}

func maxInt(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func mb(b int64) string {
	if b < 0 {
		return "n/a (no /usr/bin/time)"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}
