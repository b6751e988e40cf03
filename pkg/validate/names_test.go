package validate

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FuzzNameChecks: the fast checks never accept a name apimachinery rejects (and, on these
// seeds, agree with it exactly).
func FuzzNameChecks(f *testing.F) {
	for _, s := range []string{"", "a", "dev-team", "-a", "a-", "A", "a.b", "a..b", "example.com/name", "/x", "x/", "a/b/c",
		"team_1", "v1.2.3", "app.kubernetes.io/managed-by", "UPPER", "trailing.", ".leading", "x\n", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(name string, fast bool, msgs []string) {
			if fast && len(msgs) > 0 {
				t.Fatalf("%s(%q): fast check accepts what apimachinery rejects: %v", name, s, msgs)
			}
		}
		check("isDNSLabel", isDNSLabel(s), validation.IsDNS1123Label(s))
		check("isDNSSubdomain", isDNSSubdomain(s), validation.IsDNS1123Subdomain(s))
		check("isLabelValue", isLabelValue(s), validation.IsValidLabelValue(s))
		check("isQualifiedName", isQualifiedName(s), validation.IsQualifiedName(s))
	})
}

func TestNameChecksAgreeOnCommonNames(t *testing.T) {
	for _, s := range []string{"dev-team", "a", "x1", "kube-system", "team-00042"} {
		if !isDNSLabel(s) || len(validation.IsDNS1123Label(s)) > 0 {
			t.Errorf("%q", s)
		}
	}
	for _, s := range []string{"app.kubernetes.io/managed-by", "team", "example.com/owner", "kubernetes.io/metadata.name"} {
		if !isQualifiedName(s) || len(validation.IsQualifiedName(s)) > 0 {
			t.Errorf("%q", s)
		}
	}
}
