package shiptest_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
)

// The image is proven in three parts. TestDockerfile reads the Dockerfile (the one recipe
// `make image` and Docker buildx users build) and checks what it makes; TestImageBinary builds
// the binary as scripts/image.sh does, lays out the image from the Dockerfile's own COPY and
// ENV instructions, and runs that binary from it as the sidecar does (uid 999, read-only root,
// only /tmp writable, HOME=/tmp, the environment of the sidecar manifest and nothing else,
// DynamoDB behind the sidecar's IAM policy); TestImageArchive (image_archive_test.go) builds
// the real multi-arch archive with podman and reads it. The e2e suite runs the image itself.

// dockerfile is a parsed Dockerfile: its stages in order.
type dockerfile struct {
	stages []stage
}

type stage struct {
	from, name string
	instrs     []instr
}

type instr struct {
	cmd  string // upper-case: RUN, COPY, ...
	args string // the rest of the (joined) line
}

func parseDockerfile(t *testing.T, text string) dockerfile {
	t.Helper()
	var d dockerfile
	var line strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	flush := func() {
		l := strings.TrimSpace(line.String())
		line.Reset()
		if l == "" {
			return
		}
		cmd, args, _ := strings.Cut(l, " ")
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			d.stages = append(d.stages, s)
			return
		}
		if len(d.stages) == 0 {
			if cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before FROM", cmd)
			}
			return
		}
		s := &d.stages[len(d.stages)-1]
		s.instrs = append(s.instrs, instr{cmd, args})
	}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(strings.TrimRight(l, " \t"), `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(l)
		flush()
	}
	flush()
	return d
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, i := range s.instrs {
		if i.cmd == cmd {
			out = append(out, i.args)
		}
	}
	return out
}

// copyInstr is a COPY of the final stage: from (a stage name or "" for the build context),
// source and destination.
type copyInstr struct{ from, src, dst string }

func (s stage) copies(t *testing.T) []copyInstr {
	t.Helper()
	var out []copyInstr
	for _, args := range s.all("COPY") {
		f := strings.Fields(args)
		var c copyInstr
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			if v, ok := strings.CutPrefix(f[0], "--from="); ok {
				c.from = v
			} else {
				t.Errorf("COPY %s: flag %s is not understood by this test", args, f[0])
			}
			f = f[1:]
		}
		if len(f) != 2 {
			t.Fatalf("COPY %s: want one source and one destination", args)
		}
		c.src, c.dst = f[0], f[1]
		out = append(out, c)
	}
	return out
}

// env is the final stage's ENV KEY=value pairs.
func (s stage) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, args := range s.all("ENV") {
		for _, kv := range strings.Fields(args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %s: use the KEY=value form", args)
			}
			out[k] = v
		}
	}
	return out
}

// pluginConfigPath is where argocd-cmp-server reads plugin.yaml.
const pluginConfigPath = "/home/argocd/cmp-server/config/plugin.yaml"

// sbomPath is where the image carries the SBOM of its binary.
const sbomPath = "/usr/share/doc/dynamo-cmp/sbom.spdx.json"

// platformDir is the build-context directory of a platform's files in the Dockerfile
// (scripts/image.sh stages linux-amd64/ and linux-arm64/).
const platformDir = "${TARGETOS}-${TARGETARCH}"

// imageLayout is what the Dockerfile says about the image: the binary's path in the image,
// the files from the repository (image path → repository path), USER, ENV, LABEL and
// ENTRYPOINT.
type imageLayout struct {
	binary        string            // absolute path of dynamo-cmp in the image
	contextCopies map[string]string // image path → path in the repository
	env           map[string]string
	user          string
	labels        string // the LABEL instructions' text
	entrypoint    []string
}

// pathDirs is the image's PATH as a list.
func (img imageLayout) pathDirs() []string { return strings.Split(img.env["PATH"], ":") }

// TestDockerfile checks the image the Dockerfile describes: FROM scratch (nothing is pulled,
// no shell, no libc) and no RUN; the platform's binary from scripts/image.sh's staged context
// on PATH under the name plugin.yaml runs; plugin.yaml at argocd-cmp-server's config path;
// the SBOM; USER 999, HOME=/tmp; the OCI labels of version, revision and source from build
// arguments; an exec-form ENTRYPOINT. And that scripts/image.sh stages that context the way
// the Dockerfile reads it: scripts/build.sh's binary per platform (the binary the tests run),
// the repository's plugin/plugin.yaml, for linux/amd64 and linux/arm64.
func TestDockerfile(t *testing.T) {
	img := readImageLayout(t)
	if img.user != "999:999" {
		t.Errorf("USER %q, want 999:999 (Argo CD runs CMP sidecars as the argocd user, uid and gid 999)", img.user)
	}
	if img.env["HOME"] != "/tmp" {
		t.Errorf("ENV HOME=%q, want /tmp (the sidecar's only writable directory, an emptyDir)", img.env["HOME"])
	}
	if src := img.contextCopies[pluginConfigPath]; src != "plugin/plugin.yaml" {
		t.Errorf("the image must carry plugin/plugin.yaml at %s; COPY instructions from the context: %v", pluginConfigPath, img.contextCopies)
	}
	if len(img.entrypoint) == 0 || img.entrypoint[0] != img.binary {
		t.Errorf("ENTRYPOINT %v: want the exec form starting with %s", img.entrypoint, img.binary)
	}
	for _, l := range []string{"org.opencontainers.image.version=${VERSION}", "org.opencontainers.image.revision=${REVISION}", "org.opencontainers.image.source=${SOURCE}"} {
		if !strings.Contains(img.labels, l) {
			t.Errorf("LABEL lacks %s", l)
		}
	}
	var plugin struct {
		Spec struct {
			Generate   struct{ Command []string } `json:"generate"`
			Parameters struct {
				Dynamic struct{ Command []string } `json:"dynamic"`
			} `json:"parameters"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "plugin/plugin.yaml")), &plugin); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{plugin.Spec.Generate.Command, plugin.Spec.Parameters.Dynamic.Command} {
		if len(cmd) == 0 || cmd[0] != path.Base(img.binary) || !slices.Contains(img.pathDirs(), path.Dir(img.binary)) {
			t.Errorf("plugin.yaml runs %v, but the image has %s (PATH %s)", cmd, img.binary, img.env["PATH"])
		}
	}

	build := readRepoFile(t, "scripts/build.sh")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X github.com/dynamo-cmp/dynamo-cmp/internal/cli.Version="} {
		if !strings.Contains(build, want) {
			t.Errorf("scripts/build.sh lacks %q", want)
		}
	}
	script := readRepoFile(t, "scripts/image.sh")
	for _, want := range []string{
		"platforms=(linux/amd64 linux/arm64)",
		`GOOS=$os GOARCH=$arch scripts/build.sh "$dir/dynamo-cmp" "$version"`, // $dir = $ctx/$os-$arch
		`install -m 0644 plugin/plugin.yaml "$ctx/plugin.yaml"`,
		`-o "$dir/sbom.spdx.json"`,
		`-f "$root/Dockerfile" "$ctx"`,
		"--manifest",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("scripts/image.sh lacks %q: the context it stages is not what the Dockerfile reads", want)
		}
	}
	mk := readRepoFile(t, "Makefile")
	if !strings.Contains(mk, "scripts/build.sh") || !strings.Contains(mk, "scripts/image.sh") {
		t.Error("make build and make image must run scripts/build.sh and scripts/image.sh: the tested binary would not be the image's")
	}
}

func readImageLayout(t *testing.T) imageLayout {
	t.Helper()
	d := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	if len(d.stages) != 1 || d.stages[0].from != "scratch" {
		var froms []string
		for _, s := range d.stages {
			froms = append(froms, s.from)
		}
		t.Fatalf("Dockerfile stages FROM %v, want one stage FROM scratch (no base image is pulled; the binary is static)", froms)
	}
	final := d.stages[0]
	if runs := final.all("RUN"); len(runs) > 0 {
		t.Errorf("RUN %v: the image has no shell", runs)
	}
	img := imageLayout{contextCopies: map[string]string{}, env: final.env(t), labels: strings.Join(final.all("LABEL"), " ")}
	for _, c := range final.copies(t) {
		if c.from != "" {
			t.Errorf("COPY --from=%s: the image copies only the staged build context", c.from)
			continue
		}
		switch c.src {
		case platformDir + "/dynamo-cmp":
			img.binary = c.dst
		case platformDir + "/sbom.spdx.json":
			if c.dst != sbomPath {
				t.Errorf("COPY %s %s: the documented SBOM path is %s", c.src, c.dst, sbomPath)
			}
		case "plugin.yaml":
			img.contextCopies[c.dst] = "plugin/plugin.yaml" // scripts/image.sh stages it (TestDockerfile)
		default:
			t.Errorf("COPY %s %s: not a file scripts/image.sh stages", c.src, c.dst)
		}
	}
	if img.binary == "" {
		t.Fatalf("the Dockerfile copies no %s/dynamo-cmp", platformDir)
	}
	if users := final.all("USER"); len(users) == 1 {
		img.user = users[0]
	} else {
		t.Errorf("USER %v, want exactly one", users)
	}
	if eps := final.all("ENTRYPOINT"); len(eps) == 1 {
		if err := json.Unmarshal([]byte(eps[0]), &img.entrypoint); err != nil {
			t.Errorf("ENTRYPOINT %s: want the exec (JSON) form: %v", eps[0], err)
		}
	}
	return img
}

// buildBinary builds dynamo-cmp exactly as scripts/image.sh does for the image
// (scripts/build.sh OUTPUT VERSION) into dir.
func buildBinary(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "dynamo-cmp")
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "build.sh"), out, version)
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, b)
	}
	return out
}

// TestImageBinary builds the binary as the image does and checks it: statically linked (no
// ELF interpreter, no shared libraries: the image has no libc), built with -trimpath
// (no path of this machine inside), version stamped; then, laid out as the image's final
// stage, it renders examples/layers offline and runs `generate` and `parameters` against
// DynamoDB Local with the sidecar's environment and IAM policy, as uid 999 on a read-only
// root with a fresh /tmp, and writes nothing anywhere.
func TestImageBinary(t *testing.T) {
	const version = "v0.0.0-shipcheck"
	img := readImageLayout(t)
	bin := buildBinary(t, t.TempDir(), version)

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has an ELF %v segment: it is not statically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	f.Close()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(repoRoot(t))) {
		t.Errorf("the binary contains the build path %s: not built with -trimpath", repoRoot(t))
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("dynamo-cmp --version: %q (%v), want the stamped %s", out, err, version)
	}

	// The image as a directory: what its COPY instructions put there, and an empty /tmp (an
	// emptyDir in the pod). Nothing else: no shell, no libc, no /etc.
	root := filepath.Join(t.TempDir(), "rootfs")
	place := func(imagePath, src string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, filepath.FromSlash(imagePath))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	place(img.binary, bin)
	for dst, src := range img.contextCopies {
		place(dst, filepath.Join(repoRoot(t), src))
	}
	// What Argo CD would hand the plugin instead of a checkout; the offline render reads it.
	layers := filepath.Join(repoRoot(t), "examples", "layers")
	if err := filepath.WalkDir(layers, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoRoot(t), p)
		place("/src/"+filepath.ToSlash(rel), p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The environment: the image's ENV, the sidecar container's env from the kustomize base
	// (table and region pointed at the test's), credentials as IRSA would provide them, and
	// what argocd-cmp-server adds. Nothing from this machine.
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	publishExamples(t, storeEnv(t, cfg, endpoint))
	proxy := startIAMProxy(t, endpoint, cfg.Table, loadEffective(t, sidecarPolicies))
	sidecarEnv := map[string]string{}
	for k, v := range img.env {
		sidecarEnv[k] = v
	}
	container := builtSidecar(t)
	for _, e := range container.Env {
		sidecarEnv[e.Name] = e.Value
	}
	sidecarEnv["DYNAMO_CMP_TABLE"] = cfg.Table
	sidecarEnv["AWS_REGION"] = cfg.Region
	sidecarEnv["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.URL()
	sidecarEnv["AWS_ACCESS_KEY_ID"] = cfg.StaticCredentials.AccessKeyID
	sidecarEnv["AWS_SECRET_ACCESS_KEY"] = cfg.StaticCredentials.SecretAccessKey
	sidecarEnv["AWS_EC2_METADATA_DISABLED"] = "true"
	params := `[{"name":"cluster","string":"dev-k3s"}]`
	app := argocd(cli.Env(sidecarEnv), params)

	want := map[string]result{
		"render":     run(t, cli.Env{}, "render", "-f", layers, "--cluster", "dev-k3s"),
		"generate":   run(t, argocd(storeEnv(t, cfg, endpoint), params), "generate"),
		"parameters": run(t, argocd(storeEnv(t, cfg, endpoint), params), "parameters"),
	}
	runs := []struct {
		name string
		argv []string
		env  map[string]string
		dir  string
	}{
		{"render", []string{img.binary, "render", "-f", "examples/layers", "--cluster", "dev-k3s"}, map[string]string{"PATH": img.env["PATH"], "HOME": img.env["HOME"]}, "/src"},
		{"generate", []string{img.binary, "generate"}, app, "/tmp"},
		{"parameters", []string{img.binary, "parameters"}, app, "/tmp"},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			got := runInImage(t, root, r.argv, r.env, r.dir)
			w := want[r.name]
			if w.Code != 0 || w.Stdout == "" {
				t.Fatalf("reference run in process failed: %s", w)
			}
			if got.Code != 0 || got.Stdout != w.Stdout || got.Stderr != "" {
				t.Errorf("in the image layout: %s\nwant the in-process output (%d bytes)", got.result, len(w.Stdout))
			}
			t.Logf("verified: %s", got.how)
		})
	}
}

// imageRun is the outcome of a run in the image layout and how it was confined.
type imageRun struct {
	result
	how string
}

func (r imageRun) String() string { return r.result.String() + "\n(" + r.how + ")" }

// runInImage runs argv from the image layout at root, with env as its whole environment and
// dir as its working directory (both in image paths). As root it runs confined
// (runConfined); otherwise, without the privileges for that, it runs the binary from the
// layout with its working directory and HOME in read-only (0555) directories and checks that
// it wrote nothing, and logs what could not be verified.
func runInImage(t *testing.T, root string, argv []string, env map[string]string, dir string) imageRun {
	t.Helper()
	if os.Geteuid() == 0 {
		r, err := runConfined(t, root, argv, env, dir)
		if err == nil {
			return r
		}
		t.Logf("NOT VERIFIED: uid 999 and a read-only root: cannot set up the sandbox (%v); falling back to read-only directories, which root can write anyway", err)
	} else {
		t.Logf("NOT VERIFIED: uid 999 and a read-only root: not root (the sandbox needs CAP_SYS_ADMIN and CAP_SETUID); running as uid %d with the working directory and HOME in 0555 directories", os.Geteuid())
	}
	ro := t.TempDir()
	home := filepath.Join(ro, "home")
	work := filepath.Join(ro, "work")
	for _, d := range []string{home, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The working directory gets the files the command reads (the layout's dir).
	src := filepath.Join(root, filepath.FromSlash(dir))
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(ro, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() {
		_ = filepath.WalkDir(ro, func(p string, d fs.DirEntry, err error) error { _ = os.Chmod(p, 0o755); return nil })
	})
	before := listFiles(t, ro)
	environ := []string{}
	for k, v := range env {
		if k == "HOME" || k == "TMPDIR" {
			v = home
		}
		environ = append(environ, k+"="+v)
	}
	cmd := exec.Command(filepath.Join(root, filepath.FromSlash(argv[0])), argv[1:]...)
	cmd.Env, cmd.Dir = environ, work
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatal(err)
	}
	if after := listFiles(t, ro); !slices.Equal(before, after) {
		t.Errorf("the binary wrote into its working directory or HOME: %v", after)
	}
	return imageRun{result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}, fmt.Sprintf("uid %d, cwd and HOME in 0555 directories, environment of %d variables, nothing written", os.Geteuid(), len(environ))}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}
