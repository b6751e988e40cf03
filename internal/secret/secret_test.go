package secret_test

import (
	"os"
	"path/filepath"
	"strings"
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

// TestFile: a mounted credential is read trimmed; a missing or empty file is an error naming
// the file (never a value); once read, a file that disappears (a Secret volume being
// updated) keeps the last value rather than failing calls.
func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if _, err := secret.NewFile(path).Value(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: %v, want an error naming %s", err, path)
	}
	if err := os.WriteFile(path, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.NewFile(path).Value(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v, want an error saying it is empty", err)
	}
	if err := os.WriteFile(path, []byte("sa-token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := secret.NewFile(path)
	if v, err := f.Value(); v != "sa-token-1" || err != nil {
		t.Fatalf("file: %q, %v", v, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if v, err := f.Value(); v != "sa-token-1" || err != nil {
		t.Errorf("after the file went: %q, %v; want the last value", v, err)
	}
	if _, err := secret.Static("  ").Value(); err == nil {
		t.Error("an empty static secret: want an error")
	}
	if v, err := secret.Static(" s3cret\n").Value(); v != "s3cret" || err != nil {
		t.Errorf("static: %q, %v", v, err)
	}
}
