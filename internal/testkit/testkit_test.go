package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestRepoRoot(t *testing.T) {
	root := RepoRoot(t)
	for _, f := range []string{"go.mod", "Dockerfile", "scripts/dynamodb-local.sh"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("repository root %s has no %s: %v", root, f, err)
		}
	}
	if wd, _ := os.Getwd(); filepath.Join(root, "internal", "testkit") != wd {
		t.Errorf("RepoRoot() = %s, want the directory two above %s", root, wd)
	}
}

func TestEntry(t *testing.T) {
	e := Entry(t, config.KindNamespace, map[string]any{"namespace": "team-a"})
	if e.Kind != config.KindNamespace || e.Key != "team-a" {
		t.Errorf("Entry() = %s/%s, want %s/team-a", e.Kind, e.Key, config.KindNamespace)
	}
}
