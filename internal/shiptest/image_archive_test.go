package shiptest_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ociArchive is an OCI image layout read from a tar archive: its blobs by digest and its
// index.json.
type ociArchive struct {
	blobs map[string][]byte
	index ociIndex
}

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Platform  *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`
}

type ociIndex struct {
	Manifests []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	Config ociDescriptor   `json:"config"`
	Layers []ociDescriptor `json:"layers"`
}

type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

func readOCIArchive(t *testing.T, path string) ociArchive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := ociArchive{blobs: map[string][]byte{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		switch {
		case name == "index.json":
			if err := json.Unmarshal(data, &a.index); err != nil {
				t.Fatalf("index.json: %v", err)
			}
		case strings.HasPrefix(name, "blobs/sha256/"):
			sum := sha256.Sum256(data)
			if d := hex.EncodeToString(sum[:]); d != strings.TrimPrefix(name, "blobs/sha256/") {
				t.Errorf("blob %s has digest %s", name, d)
			}
			a.blobs["sha256:"+strings.TrimPrefix(name, "blobs/sha256/")] = data
		}
	}
	return a
}

func (a ociArchive) json(t *testing.T, digest string, v any) {
	t.Helper()
	data, ok := a.blobs[digest]
	if !ok {
		t.Fatalf("blob %s is not in the archive", digest)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("blob %s: %v", digest, err)
	}
}

// layerFiles returns the regular files of a gzip-compressed layer, by absolute path.
func layerFiles(t *testing.T, blob []byte) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&0o444 != 0o444 {
			t.Errorf("%s has mode %o: uid 999 cannot read it", h.Name, h.Mode)
		}
		files["/"+strings.TrimPrefix(h.Name, "./")] = data
	}
}

// TestImageArchive builds the image as `make image` does (scripts/image.sh, podman) and reads
// the OCI archive: one index of linux/amd64 and linux/arm64; each image runs the
// architecture's static dynamo-cmp, carrying the CA roots AWS endpoints chain to, as uid 999
// with HOME=/tmp, plugin.yaml at argocd-cmp-server's path, the labels of the version and
// revision built, and an SBOM that names the binary by its SHA-256 and is the one written
// beside the archive; the .digest file is the index's digest; and a second build of the same
// tree gives the same digest (reproducible).
func TestImageArchive(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (Debian: apt-get install podman runc; .ci/run installs them); the e2e suite fails without it")
	}
	const version = "v0.0.0-shipcheck"
	dir := t.TempDir()
	build := func(name string) string {
		t.Helper()
		out := filepath.Join(dir, name+".oci.tar")
		cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "image.sh"), out, version)
		cmd.Dir = repoRoot(t)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/image.sh: %v\n%s", err, b)
		}
		return out
	}
	archive := build("image")
	revision, err := exec.Command("git", "-C", repoRoot(t), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}

	a := readOCIArchive(t, archive)
	if len(a.index.Manifests) != 1 || a.index.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json: %+v, want one multi-arch image index", a.index)
	}
	indexDigest := a.index.Manifests[0].Digest
	digestFile, err := os.ReadFile(filepath.Join(dir, "image.digest"))
	if err != nil || strings.TrimSpace(string(digestFile)) != indexDigest {
		t.Errorf("image.digest %q (%v), want the index digest %s", digestFile, err, indexDigest)
	}
	var idx ociIndex
	a.json(t, indexDigest, &idx)
	var platforms []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		platform := m.Platform.OS + "/" + m.Platform.Architecture
		platforms = append(platforms, platform)
		t.Run(platform, func(t *testing.T) {
			var man ociManifest
			a.json(t, m.Digest, &man)
			var cfg ociConfig
			a.json(t, man.Config.Digest, &cfg)
			c := cfg.Config
			if cfg.OS+"/"+cfg.Architecture != platform || c.User != "999:999" || !slices.Contains(c.Env, "HOME=/tmp") ||
				!slices.Equal(c.Entrypoint, []string{"/usr/local/bin/dynamo-cmp"}) {
				t.Errorf("config: %s/%s user %q env %v entrypoint %v", cfg.OS, cfg.Architecture, c.User, c.Env, c.Entrypoint)
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.revision": strings.TrimSpace(string(revision)),
				"org.opencontainers.image.source":   "https://github.com/dynamo-cmp/dynamo-cmp",
			} {
				if c.Labels[k] != want {
					t.Errorf("label %s=%q, want %q", k, c.Labels[k], want)
				}
			}
			files := map[string][]byte{}
			for _, l := range man.Layers {
				for p, data := range layerFiles(t, a.blobs[l.Digest]) {
					files[p] = data
				}
			}
			var paths []string
			for p := range files {
				paths = append(paths, p)
			}
			slices.Sort(paths)
			if want := []string{pluginConfigPath, "/usr/local/bin/dynamo-cmp", sbomPath}; !slices.Equal(paths, want) {
				t.Errorf("the image holds %v, want exactly %v", paths, want)
			}
			if string(files[pluginConfigPath]) != readRepoFile(t, "plugin/plugin.yaml") {
				t.Error("the image's plugin.yaml is not the repository's plugin/plugin.yaml")
			}

			bin := files["/usr/local/bin/dynamo-cmp"]
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("dynamo-cmp: %v", err)
			}
			wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[cfg.Architecture]
			if f.Machine != wantMachine {
				t.Errorf("dynamo-cmp is built for %v, want %v", f.Machine, wantMachine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("dynamo-cmp has an ELF interpreter: not static, and the image has no libc")
				}
			}
			// The roots of Amazon Trust Services (DynamoDB, STS) are in the binary: the image
			// has no /etc/ssl.
			for _, root := range []string{"Amazon Root CA 1", "Starfield Services Root Certificate Authority - G2"} {
				if !bytes.Contains(bin, []byte(root)) {
					t.Errorf("dynamo-cmp does not carry the CA root %q", root)
				}
			}

			var doc struct {
				Packages []struct {
					Name        string `json:"name"`
					VersionInfo string `json:"versionInfo"`
					Checksums   []struct {
						ChecksumValue string `json:"checksumValue"`
					} `json:"checksums"`
				} `json:"packages"`
			}
			if err := json.Unmarshal(files[sbomPath], &doc); err != nil {
				t.Fatalf("SBOM: %v", err)
			}
			sum := sha256.Sum256(bin)
			if len(doc.Packages) == 0 || len(doc.Packages[0].Checksums) == 0 || doc.Packages[0].Checksums[0].ChecksumValue != hex.EncodeToString(sum[:]) || doc.Packages[0].VersionInfo != version {
				t.Errorf("the SBOM does not describe this binary (sha256 %x, version %s): %+v", sum, version, doc.Packages[:min(1, len(doc.Packages))])
			}
			var mods []string
			for _, p := range doc.Packages {
				mods = append(mods, p.Name)
			}
			for _, m := range []string{"stdlib", "github.com/aws/aws-sdk-go-v2/service/dynamodb", "golang.org/x/crypto/x509roots/fallback"} {
				if !slices.Contains(mods, m) {
					t.Errorf("the SBOM lacks %s", m)
				}
			}
			beside, err := os.ReadFile(filepath.Join(dir, "image."+cfg.OS+"-"+cfg.Architecture+".spdx.json"))
			if err != nil || !bytes.Equal(beside, files[sbomPath]) {
				t.Errorf("the SBOM beside the archive differs from the image's (%v)", err)
			}
		})
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v, want linux/amd64 and linux/arm64", platforms)
	}

	again := readOCIArchive(t, build("again"))
	if len(again.index.Manifests) != 1 || again.index.Manifests[0].Digest != indexDigest {
		t.Errorf("a second build of the same tree has index %+v, want %s: the build is not reproducible", again.index.Manifests, indexDigest)
	}
}
