package harness

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The product image, run as Kubernetes runs it, with Debian's podman and runc. podman reads
// the repository's e2e/podman/containers.conf (CONTAINERS_CONF), never the machine's own
// configuration. Every container is started with `podman run --rm --name NAME` and removed
// by name (`podman rm -f`) at cleanup; a reaper process outside the test process removes the
// containers and image tags that are left when the test process dies without its cleanups
// (a test timeout, SIGKILL).

// Image is the product image built by scripts/image.sh (`make image`: linux/amd64 and
// linux/arm64 as one OCI index) and loaded into podman's storage for this machine's
// architecture.
type Image struct {
	// Archive is the OCI archive scripts/image.sh wrote (both platforms).
	Archive string
	// ID is the loaded image's ID (sha256:…).
	ID string
	// Ref is the tag this test process runs the image by: localhost/dynamo-cmp-e2e:<unique>.
	// Builds of other work trees on the machine share podman's storage; a tag of its own keeps
	// the image from being removed under a running test.
	Ref string
}

var (
	imageOnce sync.Once
	image     *Image
	imageErr  error
)

// ContainersConf returns the podman configuration the tests and `make image` use
// (e2e/podman/containers.conf).
func ContainersConf(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "e2e", "podman", "containers.conf")
}

// podmanCmd is a podman command with the repository's CONTAINERS_CONF.
func podmanCmd(t testing.TB, args ...string) *exec.Cmd {
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+ContainersConf(t))
	return cmd
}

// Podman runs podman with the repository's CONTAINERS_CONF and returns its combined output.
func Podman(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := podmanCmd(t, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// BuildImage builds the product image with scripts/image.sh (version "e2e") once per test
// process, loads it into podman's storage and returns it. About 10 s with a warm Go build
// cache; cold, the arm64 build compiles the product once more (~1 min of CPU). The archive
// and the image tag are removed after the tests.
func BuildImage(t testing.TB) *Image {
	t.Helper()
	requireMain(t)
	imageOnce.Do(func() {
		if _, err := exec.LookPath("podman"); err != nil {
			imageErr = fmt.Errorf("podman is not installed (Debian: apt-get install podman runc; .ci/run installs them): %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "dynamo-cmp-image-")
		if err != nil {
			imageErr = err
			return
		}
		onProcessExit(func() { _ = os.RemoveAll(dir) })
		root := RepoRoot(t)
		start := time.Now()
		fmt.Fprintf(os.Stderr, "harness: building the image with %s/scripts/image.sh (as make image does)\n", root)
		archive := filepath.Join(dir, "dynamo-cmp-image.oci.tar")
		cmd := exec.Command(filepath.Join(root, "scripts", "image.sh"), archive, "e2e")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+ContainersConf(t))
		if _, err := runLogged(t, "image: ", cmd); err != nil {
			imageErr = err
			return
		}
		img := &Image{Archive: archive, Ref: fmt.Sprintf("localhost/dynamo-cmp-e2e:%d-%d", os.Getpid(), time.Now().UnixNano())}
		// Another test process may remove its own tag of the same image (the build is
		// reproducible: same commit, same image ID) between our load and our tag: load again.
		for attempt := 1; ; attempt++ {
			out, err := Podman(t, "load", "--quiet", "--input", archive)
			if err != nil {
				imageErr = err
				return
			}
			img.ID = strings.TrimSpace(out[strings.LastIndex(out, ":")-len("sha256"):])
			if _, err = Podman(t, "tag", img.ID, img.Ref); err == nil {
				break
			} else if attempt == 3 {
				imageErr = err
				return
			}
		}
		reap(t, "image "+img.Ref)
		onProcessExit(func() {
			_, _ = Podman(t, "rmi", "--ignore", img.Ref)
			reaped(t, "image "+img.Ref)
		})
		t.Logf("harness: image %s (%s) built and loaded in %s", img.Ref, img.ID, time.Since(start).Round(time.Millisecond))
		image = img
	})
	if imageErr != nil {
		t.Fatalf("harness: building the image: %v", imageErr)
	}
	return image
}

// ContainerOptions says how to run a container of the image. Every container runs as the
// manifests run the image: uid/gid 999, read-only root filesystem, all capabilities dropped,
// no privilege escalation, no /etc/passwd entry added (podman would add one; Kubernetes does
// not), and the host's network (the servers of the tests listen on 127.0.0.1).
type ContainerOptions struct {
	// Name is a prefix of the container's name (made unique per test process).
	Name string
	// Entrypoint replaces the image's (e.g. Argo CD's /var/run/argocd/argocd-cmp-server).
	Entrypoint string
	// Args are the arguments of the entrypoint.
	Args []string
	// Env is the container's environment on top of the image's ENV ("NAME=value"), as the
	// env of a Kubernetes container.
	Env []string
	// Mounts are bind mounts (read-only unless Writable), as volumes.
	Mounts []Mount
	// Tmpfs are the writable in-memory directories (emptyDir volumes), e.g. /tmp.
	Tmpfs []string
	// Files are host files made readable (mode 0644, as a Secret or ConfigMap volume) at the
	// same path in the container, so that arguments naming them stay valid.
	Files []string
	// LogPath receives the container's stdout and stderr (appended).
	LogPath string
	// Ready, when set, is polled every 50 ms until it returns true (60 s at most).
	Ready func() bool
	// Owner, when set, is the test whose end removes the container (default: the test that
	// starts it), for a container that outlives the subtest starting it.
	Owner testing.TB
}

// Mount is a bind mount of a host path into the container.
type Mount struct {
	Source, Target string
	Writable       bool
}

// Container is a running container (`podman run --rm`, attached: the podman process ends
// when the container does).
type Container struct {
	// Name is the container's name (podman ps, podman logs, podman rm -f NAME).
	Name string
	// LogPath holds its output.
	LogPath string

	t    testing.TB
	proc *process
}

var containerSeq atomic.Int64

// StartContainer runs img with opts and returns once it is running (and Ready, if set). It is
// removed (SIGKILL) at cleanup.
func StartContainer(t testing.TB, img *Image, opts ContainerOptions) *Container {
	t.Helper()
	requireMain(t)
	name := fmt.Sprintf("dynamo-cmp-e2e-%s-%d-%d", opts.Name, os.Getpid(), containerSeq.Add(1))
	args := []string{"run", "--rm", "--name", name, "--pull", "never",
		"--user", "999:999", "--read-only", "--read-only-tmpfs=false", "--passwd=false",
		"--cap-drop", "all", "--security-opt", "no-new-privileges", "--network", "host",
		"--label", "dynamo-cmp-e2e.pid=" + strconv.Itoa(os.Getpid())}
	for _, d := range opts.Tmpfs {
		args = append(args, "--tmpfs", d+":rw,mode=1777")
	}
	for _, m := range opts.Mounts {
		mode := "ro"
		if m.Writable {
			mode = "rw"
		}
		args = append(args, "--volume", m.Source+":"+m.Target+":"+mode)
	}
	if len(opts.Files) > 0 {
		stage := shortTempDir(t, "ctrfiles-")
		for i, f := range opts.Files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("harness: %v", err)
			}
			staged := filepath.Join(stage, strconv.Itoa(i))
			if err := os.WriteFile(staged, data, 0o644); err != nil {
				t.Fatalf("harness: %v", err)
			}
			args = append(args, "--volume", staged+":"+f+":ro")
		}
	}
	for _, e := range opts.Env {
		args = append(args, "--env", e)
	}
	if opts.Entrypoint != "" {
		args = append(args, "--entrypoint", opts.Entrypoint)
	}
	args = append(args, img.Ref)
	args = append(args, opts.Args...)

	logFile, err := os.OpenFile(opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	cmd := podmanCmd(t, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGKILL of the podman client does not stop the container (conmon runs it): the reaper
	// does, if the test process dies; cleanup removes it by name otherwise.
	reap(t, "container "+name)
	start := time.Now()
	if err := StartChild(cmd); err != nil {
		logFile.Close()
		t.Fatalf("harness: podman run: %v", err)
	}
	logFile.Close()
	p := &process{name: "container " + name, cmd: cmd, logPath: opts.LogPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c := &Container{Name: name, LogPath: opts.LogPath, t: t, proc: p}
	owner := opts.Owner
	if owner == nil {
		owner = t
	}
	c.t = owner
	owner.Cleanup(c.remove)
	p.dumpLogOnFailure(owner)
	if opts.Ready != nil {
		if err := waitFor(p, 60*time.Second, 50*time.Millisecond, opts.Ready); err != nil {
			t.Fatalf("harness: container %s: %v", name, err)
		}
		t.Logf("harness: container %s ready in %s", name, time.Since(start).Round(time.Millisecond))
	}
	return c
}

// Done is closed when the container has ended.
func (c *Container) Done() <-chan struct{} { return c.proc.done }

// Kill ends the container at once (SIGKILL to its processes), as a node failure would, and
// waits for it. Safe to call more than once.
func (c *Container) Kill() {
	if c.proc.exited() {
		return
	}
	_, _ = Podman(c.t, "kill", "--signal", "KILL", c.Name)
	c.wait(10 * time.Second)
}

// Stop sends SIGTERM (as the kubelet does), waits up to grace for the container to end, then
// kills it. Safe to call more than once.
func (c *Container) Stop(grace time.Duration) {
	if c.proc.exited() {
		return
	}
	_, _ = Podman(c.t, "stop", "--time", strconv.Itoa(int(grace.Round(time.Second)/time.Second)), c.Name)
	c.wait(grace + 10*time.Second)
}

// remove removes the container (podman rm -f, no grace) and waits for the podman client.
func (c *Container) remove() {
	if !c.proc.exited() {
		_, _ = Podman(c.t, "rm", "--force", "--ignore", "--time", "0", c.Name)
		c.wait(10 * time.Second)
	}
	reaped(c.t, "container "+c.Name)
}

func (c *Container) wait(d time.Duration) {
	select {
	case <-c.proc.done:
	case <-time.After(d):
		c.proc.kill()
	}
}

// The reaper: a process of its own (its own session, no parent-death signal) that reads
// "container NAME" / "image REF" lines, and "done …" when the test removed them itself, on
// its stdin from the test process. When that pipe closes — the test process ended, however
// it ended — it removes what is left with podman and exits.
var (
	reaperMu   sync.Mutex
	reaperPipe io.WriteCloser
)

const reaperHelper = "podman-reaper"

func init() {
	helpers[reaperHelper] = runReaper
}

func reap(t testing.TB, what string) {
	t.Helper()
	reaperMu.Lock()
	defer reaperMu.Unlock()
	if reaperPipe == nil {
		argv := HelperCommand(reaperHelper)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+ContainersConf(t))
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("harness: starting the container reaper: %v", err)
		}
		go func() { _ = cmd.Wait() }()
		reaperPipe = w
	}
	if _, err := fmt.Fprintln(reaperPipe, what); err != nil {
		t.Fatalf("harness: container reaper: %v", err)
	}
}

func reaped(t testing.TB, what string) {
	reaperMu.Lock()
	defer reaperMu.Unlock()
	if reaperPipe != nil {
		_, _ = fmt.Fprintln(reaperPipe, "done "+what)
	}
}

func runReaper(args []string) int {
	containers, images := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		done := strings.HasPrefix(line, "done ")
		line = strings.TrimPrefix(line, "done ")
		kind, name, _ := strings.Cut(line, " ")
		set := containers
		if kind == "image" {
			set = images
		}
		if done {
			delete(set, name)
		} else {
			set[name] = true
		}
	}
	var names []string
	for n := range containers {
		names = append(names, n)
	}
	if len(names) > 0 {
		_ = exec.Command("podman", append([]string{"rm", "--force", "--ignore", "--time", "0"}, names...)...).Run()
	}
	for ref := range images {
		_ = exec.Command("podman", "rmi", "--ignore", ref).Run()
	}
	return 0
}

// varFilesMounts lays out Argo CD's binary as the repo-server pod's var-files volume holds it
// (the copyutil init container copies `argocd` to /var/run/argocd and links
// argocd-cmp-server to it) and returns the mounts that give a container that volume at
// /var/run/argocd. Argo CD's release binaries are static (CGO_ENABLED=0); a binary built
// with cgo (as argocdbin/build.sh builds it, sharing the e2e test binary's build cache) also
// gets its ELF interpreter and shared libraries mounted read-only at their host paths — the
// only files of the host in the container, used by nothing but argocd-cmp-server (dynamo-cmp
// is static).
func varFilesMounts(t testing.TB, argocdBin string) []Mount {
	t.Helper()
	dir := shortTempDir(t, "varfiles-")
	if err := os.Symlink("/var/run/argocd/argocd", filepath.Join(dir, "argocd-cmp-server")); err != nil {
		t.Fatalf("harness: %v", err)
	}
	// The mount point of the binary inside the (read-only) volume.
	writeFile(t, filepath.Join(dir, "argocd"), "")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("harness: %v", err)
	}
	mounts := []Mount{{Source: dir, Target: "/var/run/argocd"}, {Source: argocdBin, Target: "/var/run/argocd/argocd"}}
	libs, err := dynamicLibraries(argocdBin)
	if err != nil {
		t.Fatalf("harness: %s: %v", argocdBin, err)
	}
	if len(libs) > 0 {
		t.Logf("harness: %s is dynamically linked (Argo CD's releases are static): mounting %v into the sidecar", argocdBin, libs)
	}
	for _, l := range libs {
		mounts = append(mounts, Mount{Source: l, Target: l})
	}
	return mounts
}

// dynamicLibraries returns the ELF interpreter and the shared libraries bin loads (resolved
// by ldd), or nothing for a static binary.
func dynamicLibraries(bin string) ([]string, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			dynamic = true
		}
	}
	if !dynamic {
		return nil, nil
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd: %w", err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}
