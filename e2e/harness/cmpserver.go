package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/cmd/argocd-cmp-server/commands"
	cmpplugin "github.com/argoproj/argo-cd/v3/cmpserver/plugin"
)

// runCMPServer is the "argocd-cmp-server" helper: Argo CD's own sidecar command.
func runCMPServer(args []string) int {
	cmd := commands.NewCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return 1
	}
	return 0
}

// inheritedEnv lists the variables of the test process a cmp-server gets; everything else
// (AWS_*, ARGOCD_*, DYNAMO_CMP_* ...) must come from the env argument, as in a sidecar.
var inheritedEnv = []string{"PATH", "HOME", "USER", "TMPDIR", "LANG", "GOCOVERDIR"}

// StartCMPServer starts the real argocd-cmp-server (this test binary re-executed) with the
// plugin.yaml in pluginDir (PluginDir for the product's own), and returns the directory
// holding its socket (<name>-<version>.sock, or <name>.sock without spec.version) once the
// socket exists. The server's environment
// is PATH, HOME, USER, TMPDIR, LANG and GOCOVERDIR of the test process, then
// ARGOCD_PLUGINSOCKFILEPATH and ARGOCD_CMP_WORKDIR, then env ("NAME=value" entries; a later
// entry wins, so env may override PATH — see PathWith and DynamoEnv). The plugin's commands
// inherit that environment, as in the sidecar container. The server ignores SIGTERM: it is
// SIGKILLed at cleanup (StartCMPServerProcess gives a Stop to kill it earlier).
func StartCMPServer(t testing.TB, pluginDir string, env []string) string {
	t.Helper()
	return startCMPServer(t, pluginDir, env).SocketDir
}

// CMPServer is a running argocd-cmp-server.
type CMPServer struct {
	// SocketDir holds the plugin socket; pass it to GenerateManifests and friends.
	SocketDir string
	// Socket is the socket's path.
	Socket string
	// LogPath is the server's log (the plugin commands' stderr is logged there too).
	LogPath string

	stop func()
}

// Stop kills the server (SIGKILL by PID, or the container's removal). Safe to call more
// than once.
func (s *CMPServer) Stop() { s.stop() }

// StartCMPServerProcess is StartCMPServer returning the server itself, to stop it early or
// read its log.
func StartCMPServerProcess(t testing.TB, pluginDir string, env []string) *CMPServer {
	t.Helper()
	return startCMPServer(t, pluginDir, env)
}

func startCMPServer(t testing.TB, pluginDir string, env []string) *CMPServer {
	t.Helper()
	requireMain(t)
	pluginDir, err := filepath.Abs(pluginDir)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	cfg, err := cmpplugin.ReadPluginConfig(pluginDir)
	if err != nil {
		t.Fatalf("harness: reading %s/plugin.yaml: %v", pluginDir, err)
	}
	sockName := cfg.Metadata.Name
	if cfg.Spec.Version != "" {
		sockName += "-" + cfg.Spec.Version
	}
	sockName += ".sock"

	sockDir := shortTempDir(t, "cmp-")
	workDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "argocd-cmp-server.log")

	argv := HelperCommand("argocd-cmp-server", "--config-dir-path", pluginDir, "--logformat", "text", "--loglevel", "info")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = workDir
	var serverEnv []string
	for _, name := range inheritedEnv {
		if v, ok := os.LookupEnv(name); ok {
			serverEnv = append(serverEnv, name+"="+v)
		}
	}
	serverEnv = append(serverEnv, "ARGOCD_PLUGINSOCKFILEPATH="+sockDir, "ARGOCD_CMP_WORKDIR="+workDir)
	cmd.Env = append(serverEnv, env...)

	start := time.Now()
	p := startProcess(t, "argocd-cmp-server", cmd, logPath)
	t.Cleanup(p.kill)
	p.dumpLogOnFailure(t)
	sock := filepath.Join(sockDir, sockName)
	if err := waitFor(p, 30*time.Second, 20*time.Millisecond, func() bool { return fileExists(sock) }); err != nil {
		t.Fatalf("harness: argocd-cmp-server: %v", err)
	}
	t.Logf("harness: argocd-cmp-server %s serving %s (ready in %s)", ArgoCDVersion(), sock, time.Since(start).Round(time.Millisecond))
	return &CMPServer{SocketDir: sockDir, Socket: sock, LogPath: logPath, stop: p.kill}
}

// Paths of the sidecar container, as manifests/base/sidecar mounts Argo CD's volumes.
const (
	sidecarVarFiles = "/var/run/argocd"                   // var-files: Argo CD's binary
	sidecarPlugins  = "/home/argocd/cmp-server/plugins"   // plugins: the socket, shared with the repo-server
	sidecarCommand  = "/var/run/argocd/argocd-cmp-server" // the container's command
)

// StartCMPSidecar runs the CMP sidecar from the product image as Kubernetes runs it
// (manifests/base/sidecar): Argo CD's argocd-cmp-server (the multi-call binary of
// ArgoCDBinDir, laid out as the var-files volume) is the command; it reads the plugin.yaml the
// image carries and runs the image's dynamo-cmp; the socket directory on this host is the
// plugins volume shared with the repo-server; uid 999, read-only root filesystem, /tmp the
// only writable path (the emptyDir), and env on top of the image's ENV (DynamoEnv: the
// table, region, endpoint and credentials — never PATH or HOME, which the image sets).
// It returns once the plugin's socket exists; the container is removed at cleanup.
func StartCMPSidecar(t testing.TB, img *Image, env []string) *CMPServer {
	t.Helper()
	return startCMPSidecar(t, img, filepath.Join(ArgoCDBinDir(t), "argocd"), shortTempDir(t, "cmp-"), env)
}

func startCMPSidecar(t testing.TB, img *Image, argocdBin, sockDir string, env []string) *CMPServer {
	t.Helper()
	for _, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == "PATH" || name == "HOME" {
			t.Fatalf("harness: the sidecar's env sets %s: the image sets it (drop PathWith from the env)", name)
		}
	}
	// The repo-server (root here) and the sidecar (uid 999) share the directory, as they share
	// the plugins emptyDir in the pod.
	if err := os.Chmod(sockDir, 0o777); err != nil {
		t.Fatalf("harness: %v", err)
	}
	var sock string
	c := StartContainer(t, img, ContainerOptions{
		Name:       "cmp-server",
		Entrypoint: sidecarCommand,
		Args:       []string{"--logformat", "text", "--loglevel", "info"},
		Env:        env,
		Mounts:     append(varFilesMounts(t, argocdBin), Mount{Source: sockDir, Target: sidecarPlugins, Writable: true}),
		Tmpfs:      []string{"/tmp"},
		LogPath:    filepath.Join(t.TempDir(), "argocd-cmp-server.log"),
		Ready: func() bool {
			socks, _ := filepath.Glob(filepath.Join(sockDir, "*.sock"))
			if len(socks) == 1 {
				sock = socks[0]
			}
			return sock != ""
		},
	})
	t.Logf("harness: argocd-cmp-server %s in container %s serving %s", ArgoCDVersion(), c.Name, sock)
	return &CMPServer{SocketDir: sockDir, Socket: sock, LogPath: c.LogPath, stop: c.remove}
}

// WritePluginConfig writes a plugin.yaml with the given content into a new temporary
// directory and returns the directory (for throwaway plugins in tests).
func WritePluginConfig(t testing.TB, pluginYAML string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin.yaml"), []byte(pluginYAML), 0o644); err != nil {
		t.Fatalf("harness: %v", err)
	}
	return dir
}

// YAMLCommand renders argv as a YAML flow sequence for a plugin.yaml command.
func YAMLCommand(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
