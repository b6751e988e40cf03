package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Secret is a credential read when needed (so a rotated file is picked up).
type Secret interface {
	Value() (string, error)
}

// Static is a secret given as a value (from the environment).
type Static string

// Value implements Secret.
func (s Static) Value() (string, error) {
	if strings.TrimSpace(string(s)) == "" {
		return "", errors.New("empty secret")
	}
	return strings.TrimSpace(string(s)), nil
}

// recheck is how long a file secret is used before the file is read again.
const recheck = 10 * time.Second

// File is a secret read from a file (a mounted Secret key, a service account token), re-read
// at most every 10 seconds; surrounding white space is ignored.
type File struct {
	Path string

	mu     sync.Mutex
	val    string
	readAt time.Time
}

// NewFile returns the secret held in path.
func NewFile(path string) *File { return &File{Path: path} }

// Value implements Secret. When the file cannot be read again, the last value read is kept.
func (f *File) Value() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.val != "" && time.Since(f.readAt) < recheck {
		return f.val, nil
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		if f.val != "" {
			return f.val, nil
		}
		return "", fmt.Errorf("read secret file %s: %w", f.Path, errors.Unwrap(err))
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		if f.val != "" {
			return f.val, nil
		}
		return "", fmt.Errorf("secret file %s is empty", f.Path)
	}
	f.val, f.readAt = v, time.Now()
	return v, nil
}

// OptionalFile is a secret that may be absent: the previous token or signing secret of a
// rotation. It is read from a file at most every 10 seconds; a missing or empty file is no
// secret (the value "" and no error), so removing the file ends the rotation window without
// a restart.
type OptionalFile struct {
	Path string

	mu     sync.Mutex
	val    string
	readAt time.Time
}

// NewOptionalFile returns the optional secret held in path.
func NewOptionalFile(path string) *OptionalFile { return &OptionalFile{Path: path} }

// Value implements Secret: "" when the file is missing or empty. Any other read error is
// returned (and the last value read is kept).
func (f *OptionalFile) Value() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.readAt.IsZero() && time.Since(f.readAt) < recheck {
		return f.val, nil
	}
	data, err := os.ReadFile(f.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f.val, f.readAt = "", time.Now()
	case err != nil:
		if !f.readAt.IsZero() {
			return f.val, nil
		}
		return "", fmt.Errorf("read secret file %s: %w", f.Path, errors.Unwrap(err))
	default:
		f.val, f.readAt = strings.TrimSpace(string(data)), time.Now()
	}
	return f.val, nil
}
