//go:build !linux

package shiptest_test

import (
	"errors"
	"testing"
)

const sandboxEnv = "SHIPCHECK_SANDBOX"

func runConfined(*testing.T, string, []string, map[string]string, string) (imageRun, error) {
	return imageRun{}, errors.New("mount namespaces need Linux")
}

func runSandbox(string) int { return 2 }
