// Command sbomcmd writes the SPDX 2.3 bill of materials of a Go binary (package sbom) as
// JSON. scripts/image.sh runs it for each architecture of the image; it is a build tool, not
// part of the product binary.
//
//	go run ./cmd/sbomcmd -version V -source URL -path /usr/local/bin/dynamo-cmp -created UNIX_SECONDS -o OUT.spdx.json BINARY
package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/sbom"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sbomcmd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("sbomcmd", flag.ContinueOnError)
	version := fs.String("version", "", "the version the binary was stamped with")
	source := fs.String("source", "", "the source repository URL")
	path := fs.String("path", "", "the binary's path in the image")
	created := fs.String("created", "", "creation time, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	out := fs.String("o", "", "output file (default: stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one binary, got %d arguments", fs.NArg())
	}
	secs, err := strconv.ParseInt(*created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created %q: %w", *created, err)
	}
	bin := fs.Arg(0)
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading the build information of %s: %w", bin, err)
	}
	goos, goarch := "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	doc, err := sbom.FromBuildInfo(data, info, sbom.Options{
		Name:     fmt.Sprintf("dynamo-cmp %s %s/%s", *version, goos, goarch),
		Version:  *version,
		Source:   *source,
		FilePath: *path,
		Created:  time.Unix(secs, 0),
	})
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	var text bytes.Buffer
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false) // package URLs keep their "&"
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(text.Bytes())
		return err
	}
	return os.WriteFile(*out, text.Bytes(), 0o644)
}
