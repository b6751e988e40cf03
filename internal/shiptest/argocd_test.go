package shiptest_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// supportedArgoCD is the Argo CD range dynamo-cmp documents as supported, newest first:
// exactly the versions the e2e suite runs, each through its own go.mod of the e2e module and
// its own make target. The docs' support matrix, the go.mod files and manifests/base are
// checked against it; moving to a new Argo CD release starts here.
var supportedArgoCD = []struct {
	Version string // the release, as the Go module and the image tag name it
	GoMod   string // the go.mod of the e2e module that requires it
	Target  string // the make target that runs the e2e suite against it
}{
	{"v3.6.2", "e2e/go.mod", "make test"},
	{"v3.5.8", "e2e/compat/go.mod", "make e2e-compat"},
}

// argoModule is the Go module of Argo CD.
const argoModule = "github.com/argoproj/argo-cd/v3"

// TestSupportedArgoCD checks that what docs/install.md calls supported is what the two e2e
// runs cover: each go.mod of the e2e module requires its version, the Makefile runs the
// suite with that go.mod, and the support matrix lists exactly these versions, each with the
// date and result of its last run.
func TestSupportedArgoCD(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	for _, s := range supportedArgoCD {
		if got := requiredVersion(readRepoFile(t, s.GoMod), argoModule); got != s.Version {
			t.Errorf("%s requires %s %q, want %s (the supported range)", s.GoMod, argoModule, got, s.Version)
		}
		if rel := strings.TrimPrefix(s.GoMod, "e2e/"); rel != "go.mod" && !strings.Contains(makefile, "-modfile="+rel) {
			t.Errorf("Makefile: no e2e run with -modfile=%s (%s)", rel, s.Target)
		}
	}

	rows := supportMatrix(t, readRepoFile(t, "docs/install.md"))
	var listed []string
	date := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	for _, r := range rows {
		listed = append(listed, r.version)
		if !date.MatchString(r.date) || r.result == "" {
			t.Errorf("docs/install.md support matrix, %s: last run %q, result %q: want a date (YYYY-MM-DD) and a result", r.version, r.date, r.result)
		}
		for _, s := range supportedArgoCD {
			if s.Version == r.version && !strings.Contains(r.runBy, s.Target) {
				t.Errorf("docs/install.md support matrix, %s: run by %q, want %s", r.version, r.runBy, s.Target)
			}
		}
	}
	var want []string
	for _, s := range supportedArgoCD {
		want = append(want, s.Version)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("docs/install.md support matrix lists %v, want %v: the versions the e2e runs cover", listed, want)
	}
}

// TestPluginForwardCompatible checks plugin.yaml's name for every Argo CD: 3.x names a
// plugin's socket <name>-<version> (or <name> without spec.version), 4.0 drops spec.version.
// Without a version and with the "v1" in the name, the socket and the name Applications use
// stay dynamo-cmp-v1 on both.
func TestPluginForwardCompatible(t *testing.T) {
	var p struct {
		Metadata struct{ Name string } `json:"metadata"`
		Spec     map[string]any        `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "plugin/plugin.yaml")), &p); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Spec["version"]; ok {
		t.Error("plugin.yaml sets spec.version, which Argo CD 4.0 drops (the socket name would change): put the version into metadata.name")
	}
	if p.Metadata.Name != "dynamo-cmp-v1" {
		t.Errorf("plugin.yaml metadata.name %q, want dynamo-cmp-v1: the name every Application uses", p.Metadata.Name)
	}
}

// matrixRow is a row of the support matrix in docs/install.md.
type matrixRow struct{ version, runBy, date, result string }

// supportMatrix returns the rows of the table under the "Supported Argo CD versions" heading:
// | Argo CD | Go | run by | last run | result |.
func supportMatrix(t *testing.T, md string) []matrixRow {
	t.Helper()
	_, section, ok := strings.Cut(md, "\n## Supported Argo CD versions\n")
	if !ok {
		t.Fatal("docs/install.md: no \"## Supported Argo CD versions\" section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var rows []matrixRow
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[0]), "v") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, matrixRow{version: strings.Fields(cells[0])[0], runBy: cells[2], date: cells[3], result: cells[4]})
	}
	if len(rows) == 0 {
		t.Fatal("docs/install.md: the support matrix has no rows")
	}
	return rows
}

// requiredVersion returns the version a go.mod requires of module path ("" when none).
func requiredVersion(gomod, path string) string {
	for _, line := range strings.Split(gomod, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}
