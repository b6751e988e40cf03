package sbom_test

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/sbom"
)

func buildInfo() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "github.com/dynamo-cmp/dynamo-cmp/cmd/dynamo-cmp",
		Main:      debug.Module{Path: "github.com/dynamo-cmp/dynamo-cmp", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/aws/aws-sdk-go-v2", Version: "v1.47.7", Sum: "h1:abc="},
			{Path: "github.com/BurntSushi/toml", Version: "v1.4.0", Sum: "h1:def="},
			{Path: "gopkg.in/yaml.v2", Version: "v2.2.8", Replace: &debug.Module{Path: "gopkg.in/yaml.v2", Version: "v2.4.0", Sum: "h1:ghi="}},
		},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}, {Key: "CGO_ENABLED", Value: "0"}, {Key: "-trimpath", Value: "true"}},
	}
}

var opts = sbom.Options{
	Name: "dynamo-cmp v0.1.0 linux/arm64", Version: "v0.1.0", Source: "https://github.com/dynamo-cmp/dynamo-cmp",
	FilePath: "/usr/local/bin/dynamo-cmp", Created: time.Unix(1765000000, 0),
}

// What a scanner reads from the document: every module linked in with its package URL and
// the version actually linked (the replacement's), the standard library, and the binary
// itself with its SHA-256, the architecture in its package URL.
func TestFromBuildInfo(t *testing.T) {
	doc, err := sbom.FromBuildInfo([]byte("binary"), buildInfo(), opts)
	if err != nil {
		t.Fatal(err)
	}
	purls := map[string]string{} // name → purl
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		if ids[p.SPDXID] {
			t.Errorf("duplicate SPDX id %s", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if len(p.ExternalRefs) != 1 || p.ExternalRefs[0].ReferenceType != "purl" {
			t.Errorf("%s: external refs %+v, want one purl", p.Name, p.ExternalRefs)
			continue
		}
		purls[p.Name] = p.ExternalRefs[0].ReferenceLocator
	}
	want := map[string]string{
		"github.com/dynamo-cmp/dynamo-cmp": "pkg:golang/github.com/dynamo-cmp/dynamo-cmp@v0.1.0?goarch=arm64&goos=linux",
		"stdlib":                           "pkg:golang/stdlib@go1.26.8",
		"github.com/aws/aws-sdk-go-v2":     "pkg:golang/github.com/aws/aws-sdk-go-v2@v1.47.7",
		"github.com/BurntSushi/toml":       "pkg:golang/github.com/BurntSushi/toml@v1.4.0",
		"gopkg.in/yaml.v2":                 "pkg:golang/gopkg.in/yaml.v2@v2.4.0",
	}
	if !reflect.DeepEqual(purls, want) {
		t.Errorf("package URLs:\n got %v\nwant %v", purls, want)
	}
	bin := doc.Packages[0]
	if bin.Checksums[0].ChecksumValue != "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd" {
		t.Errorf("binary checksum %+v, want the SHA-256 of its bytes", bin.Checksums)
	}
	for _, p := range doc.Packages {
		if p.Name == "github.com/BurntSushi/toml" && p.DownloadLocation != "https://proxy.golang.org/github.com/!burnt!sushi/toml/@v/v1.4.0.zip" {
			t.Errorf("download location %s: want the module proxy's case-encoded path", p.DownloadLocation)
		}
		if p.Name == "gopkg.in/yaml.v2" && !strings.Contains(p.Comment, "replaces gopkg.in/yaml.v2 v2.2.8") {
			t.Errorf("a replaced module says what it replaces: %q", p.Comment)
		}
	}
	deps := 0
	for _, r := range doc.Relationships {
		if r.RelationshipType == "DEPENDS_ON" {
			deps++
		}
	}
	if deps != len(doc.Packages)-1 || doc.DocumentDescribes[0] != bin.SPDXID {
		t.Errorf("the document describes %v with %d dependencies, want the binary with %d", doc.DocumentDescribes, deps, len(doc.Packages)-1)
	}
	if doc.CreationInfo.Created != "2025-12-06T05:46:40Z" {
		t.Errorf("created %s, want the given time in UTC", doc.CreationInfo.Created)
	}
}

// The same input gives the same bytes: the image build stays reproducible.
func TestDeterministic(t *testing.T) {
	a, _ := sbom.FromBuildInfo([]byte("binary"), buildInfo(), opts)
	b, _ := sbom.FromBuildInfo([]byte("binary"), buildInfo(), opts)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Error("two documents of the same binary differ")
	}
}

func TestRefusesIncompleteInput(t *testing.T) {
	noArch := buildInfo()
	noArch.Settings = nil
	for name, tc := range map[string]struct {
		info *debug.BuildInfo
		opts sbom.Options
	}{
		"no build information": {nil, opts},
		"no version":           {buildInfo(), sbom.Options{Name: "x", Created: opts.Created}},
		"no GOOS/GOARCH":       {noArch, opts},
	} {
		if _, err := sbom.FromBuildInfo(nil, tc.info, tc.opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The binary this test runs in is a real Go binary: its own build information converts.
func TestOwnBuildInfo(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build information in the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sbom.FromBuildInfo(data, info, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) < 2+len(info.Deps)/2 {
		t.Errorf("%d packages for %d modules", len(doc.Packages), len(info.Deps))
	}
}
