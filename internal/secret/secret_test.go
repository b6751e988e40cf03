package secret_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// TestOptionalFile: the previous secret of a rotation may be absent; a missing or empty file
// is no secret rather than an error.
func TestOptionalFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previous")
	if v, err := secret.NewOptionalFile(path).Value(); v != "" || err != nil {
		t.Errorf("missing file: %q, %v; want no secret and no error", v, err)
	}
	if err := os.WriteFile(path, []byte("  previous-token \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := secret.NewOptionalFile(path).Value(); v != "previous-token" || err != nil {
		t.Errorf("file: %q, %v", v, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := secret.NewOptionalFile(path).Value(); v != "" || err != nil {
		t.Errorf("empty file: %q, %v; want no secret and no error", v, err)
	}
	if _, err := secret.NewOptionalFile(t.TempDir()).Value(); err == nil {
		t.Error("a directory: want an error")
	}
}
