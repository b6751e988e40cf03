package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
)

// Options names what the build information does not hold.
type Options struct {
	// Name is the document's name, e.g. "dynamo-cmp v0.1.0 linux/amd64".
	Name string
	// Version is the product version the binary was stamped with (the main module's version
	// in the build information is "(devel)" for a build from a work tree).
	Version string
	// Source is the product's source repository, the main package's download location.
	Source string
	// FilePath is where the binary lives in the image, e.g. /usr/local/bin/dynamo-cmp.
	FilePath string
	// Created is the document's creation time (the build's SOURCE_DATE_EPOCH, so that the
	// same commit gives the same document).
	Created time.Time
}

// Document is an SPDX 2.3 document in its JSON form (the fields this package fills).
type Document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      CreationInfo   `json:"creationInfo"`
	DocumentDescribes []string       `json:"documentDescribes"`
	Packages          []Package      `json:"packages"`
	Relationships     []Relationship `json:"relationships"`
}

// CreationInfo says when and by what a document was made.
type CreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

// Package is one SPDX package: the binary, the standard library or a Go module.
type Package struct {
	SPDXID                string        `json:"SPDXID"`
	Name                  string        `json:"name"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	Checksums             []Checksum    `json:"checksums,omitempty"`
	ExternalRefs          []ExternalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
	Comment               string        `json:"comment,omitempty"`
}

// Checksum is a package checksum.
type Checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

// ExternalRef is a package's reference outside the document (its package URL).
type ExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

// Relationship links two elements of the document.
type Relationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// binaryID is the SPDX id of the binary the document describes.
const binaryID = "SPDXRef-Package-binary"

// FromBuildInfo describes the binary whose content is binary and whose build information is
// info. It fails when info lacks what a bill of materials needs (the main module, the Go
// version, GOOS and GOARCH) or when opts lacks a name, version or creation time.
func FromBuildInfo(binary []byte, info *debug.BuildInfo, opts Options) (*Document, error) {
	var errs []error
	if info == nil || info.Main.Path == "" {
		errs = append(errs, errors.New("the binary carries no Go build information (main module)"))
	}
	if opts.Name == "" || opts.Version == "" || opts.Created.IsZero() {
		errs = append(errs, errors.New("name, version and creation time are required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	goos, goarch := settings["GOOS"], settings["GOARCH"]
	if goos == "" || goarch == "" || info.GoVersion == "" {
		return nil, fmt.Errorf("the build information lacks GOOS, GOARCH or the Go version (GOOS=%q GOARCH=%q go=%q)", goos, goarch, info.GoVersion)
	}
	sum := sha256.Sum256(binary)
	digest := hex.EncodeToString(sum[:])

	var build []string
	for _, k := range []string{"GOOS", "GOARCH", "GOAMD64", "GOARM64", "CGO_ENABLED", "-trimpath", "-ldflags"} {
		if v, ok := settings[k]; ok {
			build = append(build, k+"="+v)
		}
	}
	main := Package{
		SPDXID:           binaryID,
		Name:             info.Main.Path,
		VersionInfo:      opts.Version,
		DownloadLocation: orNoAssertion(opts.Source),
		FilesAnalyzed:    false,
		Checksums:        []Checksum{{Algorithm: "SHA256", ChecksumValue: digest}},
		ExternalRefs: []ExternalRef{purlRef(purl(info.Main.Path, opts.Version) +
			"?goarch=" + url.QueryEscape(goarch) + "&goos=" + url.QueryEscape(goos))},
		PrimaryPackagePurpose: "APPLICATION",
		Comment: strings.TrimSpace(fmt.Sprintf("the Go binary %s (package %s), built with %s, %s",
			opts.FilePath, info.Path, info.GoVersion, strings.Join(build, " "))),
	}
	doc := &Document{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              opts.Name,
		DocumentNamespace: namespace(opts.Source, info.Main.Path, opts.Version, goos, goarch, digest),
		CreationInfo: CreationInfo{
			Created:  opts.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: dynamo-cmp-sbom", "Tool: " + info.GoVersion},
			Comment:  "Modules as recorded by the Go toolchain in the binary's build information (go version -m).",
		},
		DocumentDescribes: []string{binaryID},
		Packages:          []Package{main},
	}
	link := func(id string) {
		doc.Relationships = append(doc.Relationships, Relationship{binaryID, "DEPENDS_ON", id})
	}
	doc.Relationships = append(doc.Relationships, Relationship{"SPDXRef-DOCUMENT", "DESCRIBES", binaryID})

	std := Package{
		SPDXID:                "SPDXRef-Package-go-stdlib",
		Name:                  "stdlib",
		VersionInfo:           info.GoVersion,
		DownloadLocation:      "https://go.dev/dl/",
		ExternalRefs:          []ExternalRef{purlRef("pkg:golang/stdlib@" + info.GoVersion)},
		PrimaryPackagePurpose: "LIBRARY",
		Comment:               "the Go standard library and runtime linked into the binary",
	}
	doc.Packages = append(doc.Packages, std)
	link(std.SPDXID)

	seen := map[string]bool{binaryID: true, std.SPDXID: true}
	for _, dep := range info.Deps {
		m := dep
		comment := ""
		if dep.Replace != nil {
			m = dep.Replace
			comment = "replaces " + dep.Path + " " + dep.Version + "; "
		}
		if m.Sum != "" {
			comment += "go.sum " + m.Sum
		}
		p := Package{
			SPDXID:                "SPDXRef-Package-go-module-" + idPart(m.Path) + "-" + idPart(m.Version),
			Name:                  m.Path,
			VersionInfo:           m.Version,
			DownloadLocation:      proxyURL(m.Path, m.Version),
			ExternalRefs:          []ExternalRef{purlRef(purl(m.Path, m.Version))},
			PrimaryPackagePurpose: "LIBRARY",
			Comment:               strings.TrimSuffix(comment, "; "),
		}
		if seen[p.SPDXID] {
			continue
		}
		seen[p.SPDXID] = true
		doc.Packages = append(doc.Packages, p)
		link(p.SPDXID)
	}
	return doc, nil
}

func purlRef(locator string) ExternalRef {
	return ExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: locator}
}

// purl is the package URL of a Go module: pkg:golang/<path>@<version>, each path segment
// escaped (github.com/aws/aws-sdk-go-v2 stays as it is).
func purl(path, version string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "pkg:golang/" + strings.Join(segs, "/") + "@" + url.PathEscape(version)
}

// proxyURL is where the Go module proxy serves the module's zip; a local (replaced by
// directory, no version) module has none.
func proxyURL(path, version string) string {
	if version == "" || version == "(devel)" {
		return "NOASSERTION"
	}
	return "https://proxy.golang.org/" + escapeModulePath(path) + "/@v/" + escapeModulePath(version) + ".zip"
}

// escapeModulePath is the module proxy's case encoding: an upper-case letter becomes "!" and
// the letter in lower case.
func escapeModulePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// idPart makes s usable in an SPDX id (letters, digits, "." and "-").
func idPart(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}

func namespace(source, mainPath, version, goos, goarch, digest string) string {
	base := source
	if base == "" {
		base = "https://" + mainPath
	}
	return strings.TrimSuffix(base, "/") + "/spdx/" + url.PathEscape(version) + "/" + goos + "-" + goarch + "/sha256-" + digest
}

func orNoAssertion(s string) string {
	if s == "" {
		return "NOASSERTION"
	}
	return s
}
