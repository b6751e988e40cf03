//go:build !linux

package dynamolocal

// closeInheritedOnExec is a no-op where /proc/self/fd does not exist (see fds_linux.go).
func closeInheritedOnExec() {}
