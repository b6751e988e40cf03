// Package sbom describes a Go binary as an SPDX 2.3 software bill of materials: the main
// module, the Go standard library and every module linked in, each with its package URL
// (pkg:golang/…), read from the build information the Go toolchain embeds in every binary
// (what `go version -m` prints). The image build (scripts/image.sh, through
// cmd/sbomcmd) puts one document per architecture into the image and beside the OCI
// archive.
//
// The document is deterministic: the same binary, version and creation time give the same
// bytes, so a reproducible image build stays reproducible.
package sbom
