package render_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbiddenInCore are the import path prefixes the public core must not link: the cloud SDK,
// the store and Argo CD. A tool importing pkg/ (a CI check, a Terraform provider, a portal)
// gets the pipeline and nothing with effects.
var forbiddenInCore = []string{
	"github.com/aws/",
	"github.com/argoproj/",
	"github.com/dynamo-cmp/dynamo-cmp/internal/store",
	"github.com/dynamo-cmp/dynamo-cmp/internal/",
}

// coreDeps lists the packages the given packages link (go list -deps) that match
// forbiddenInCore. internal/policy is allowed to be linked by offline `dynamo-cmp render`,
// so it is listed as a root, not a dependency of pkg/.
func coreDeps(t *testing.T, pkgs ...string) (all, bad []string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %v: %v", pkgs, err)
	}
	all = strings.Fields(string(out))
	for _, p := range all {
		for _, f := range forbiddenInCore {
			if strings.HasPrefix(p, f) {
				bad = append(bad, p)
				break
			}
		}
	}
	return all, bad
}

// TestCoreLinksNoCloudOrStore: `go list -deps ./pkg/...` has no AWS SDK, no DynamoDB, no
// Argo CD module and nothing of internal/ (the effects live there).
func TestCoreLinksNoCloudOrStore(t *testing.T) {
	all, bad := coreDeps(t, "./pkg/...")
	if !slices.Contains(all, "github.com/dynamo-cmp/dynamo-cmp/pkg/render") {
		t.Fatalf("go list -deps ./pkg/... does not list pkg/render: %v", all)
	}
	if len(bad) > 0 {
		t.Errorf("the public core links %v", bad)
	}
	// The check sees what it is for: the store links the AWS SDK.
	if _, bad := coreDeps(t, "./internal/store"); len(bad) == 0 {
		t.Error("go list -deps ./internal/store: no AWS SDK found; the check cannot see it")
	}
}

// TestOfflineRenderLinksNoStore: offline `dynamo-cmp render -f` runs render.Layers with the
// policy checker; neither links the store or the AWS SDK.
func TestOfflineRenderLinksNoStore(t *testing.T) {
	_, bad := coreDeps(t, "./internal/policy")
	bad = slices.DeleteFunc(bad, func(p string) bool { return p == "github.com/dynamo-cmp/dynamo-cmp/internal/policy" })
	if len(bad) > 0 {
		t.Errorf("internal/policy (offline render's checker) links %v", bad)
	}
}
