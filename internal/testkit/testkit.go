// Package testkit holds the small helpers the tests of several packages share: the
// repository's root directory, a test's context, configuration entries built from raw
// bodies, and StartChild, which starts a server so that it dies with the test process.
// DynamoDB Local tables come from internal/dynamolocal, in-process CLI runs from
// internal/clitest.
package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// FindRepoRoot returns the repository's root directory: the nearest directory above the
// working directory (a test's package directory) that holds go.mod and
// scripts/dynamodb-local.sh (the e2e module's go.mod has no scripts/ beside it).
func FindRepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = fmt.Errorf("find the repository root: %w", err)
			return
		}
		for d := dir; ; d = filepath.Dir(d) {
			if isFile(filepath.Join(d, "go.mod")) && isFile(filepath.Join(d, "scripts", "dynamodb-local.sh")) {
				rootDir = d
				return
			}
			if filepath.Dir(d) == d {
				rootErr = fmt.Errorf("find the repository root: no directory at or above %s holds go.mod and scripts/dynamodb-local.sh", dir)
				return
			}
		}
	})
	return rootDir, rootErr
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// RepoRoot is FindRepoRoot for a test: it fails the test when there is no root.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// Context returns a context that ends after two minutes or when the test ends.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// Entry builds an entry of kind from a raw body, failing the test when the body is not one.
func Entry(tb testing.TB, kind string, body map[string]any) config.Entry {
	tb.Helper()
	e, err := config.NewEntry(kind, body)
	if err != nil {
		tb.Fatalf("NewEntry(%s): %v", kind, err)
	}
	return e
}
