//go:build !linux

package testkit

import "os/exec"

func startChild(cmd *exec.Cmd) error { return cmd.Start() }
