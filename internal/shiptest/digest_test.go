package shiptest_test

import (
	"regexp"
	"testing"
)

// pinnedImage is an image reference pinned by digest: name[:tag]@sha256:<64 hex>.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

// TestBaseImagesPinnedByDigest (issue 20, item 6): a tag can be moved to another image; every
// stage of the Dockerfile starts from scratch (nothing pulled) or from a base pinned by digest
// (the tag stays for people).
func TestBaseImagesPinnedByDigest(t *testing.T) {
	d := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	for _, s := range d.stages {
		if s.from != "scratch" && !pinnedImage.MatchString(s.from) {
			t.Errorf("FROM %s: pin the base image by digest (name:tag@sha256:...)", s.from)
		}
	}
}
