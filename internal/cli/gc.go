package cli

import (
	"runtime/debug"
)

// tuneGC sets the garbage collector up for a short-lived rendering process: collect less
// often (GOGC 400 instead of 100: a render allocates many short-lived nodes and keeps little),
// but keep the heap under a soft limit of 256 MiB so a very large configuration does not grow
// the process unboundedly. GOGC and GOMEMLIMIT in the environment take precedence.
func tuneGC(env Env) {
	if env.Get("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if env.Get("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
