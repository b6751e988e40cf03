package e2e

// The serve fleet benchmark (make bench-serve-fleet; docs/performance.md): dynamo-cmp serve
// against a real argocd-server holding the Applications of 1,000 clusters (5 each, the
// Applications of the matrix example ApplicationSet, with synthetic Synced/Healthy statuses
// created in its kube-apiserver; no controller runs, so they keep them), two builds of serve
// interleaved (before/after), each measured idle, while it follows a change of every cluster,
// and through a rollout step of every cluster. Skipped unless DYNAMO_CMP_BENCH_SERVE_FLEET
// names the builds.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

var fleetComponents = []string{"namespaces", "rbac", "network", "calico", "manifests"}

type fleetBuild struct{ name, bin string }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func TestServeFleetBench(t *testing.T) {
	spec := os.Getenv("DYNAMO_CMP_BENCH_SERVE_FLEET")
	if spec == "" {
		t.Skip("make bench-serve-fleet runs it (DYNAMO_CMP_BENCH_SERVE_FLEET=before=BIN,after=BIN)")
	}
	var builds []fleetBuild
	for _, kv := range strings.Split(spec, ",") {
		name, bin, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("DYNAMO_CMP_BENCH_SERVE_FLEET: %q is not NAME=BIN", kv)
		}
		builds = append(builds, fleetBuild{name, bin})
	}
	seed := os.Getenv("DYNAMO_CMP_BENCH_BENCHCMD")
	clusters := envInt(t, "BENCH_CLUSTERS", 1000)
	perCluster := min(envInt(t, "BENCH_APPS_PER_CLUSTER", 5), len(fleetComponents))
	rounds := envInt(t, "BENCH_ROUNDS", 1)
	window := time.Duration(envInt(t, "BENCH_WINDOW_SECONDS", 60)) * time.Second
	ctx := context.Background()

	kube := harness.StartKubeAPIServer(t)
	if _, err := kube.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, policy := serveRBACFromDocs(t)
	argo := harness.StartArgoCD(t, kube, harness.ArgoCDOptions{APIServerOnly: true,
		ConfigData: map[string]map[string]string{"argocd-cm": cm, "argocd-rbac-cm": {"policy.csv": policy}}})
	argoToken := argo.GenerateToken(t, "dynamo-cmp")

	db := harness.StartDynamoDB(t)
	const table = "fleet"
	env := append(db.Env(table), "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	out, err := exec.Command(seed, "seed-fleet", "-endpoint", db.Endpoint, "-table", table, "-clusters", strconv.Itoa(clusters)).CombinedOutput()
	if err != nil {
		t.Fatalf("benchcmd seed-fleet: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))

	dir := t.TempDir()
	genToken := "bench-generator-token-0123456789abcdef"
	genTokenFile := writeSecret(t, dir, "generator-token", genToken)
	argoTokenFile := writeSecret(t, dir, "argocd-token", argoToken)
	proxy := startCountingProxy(t, argo.ServerAddr)
	after := builds[len(builds)-1].bin

	// The generator's answer for the fleet, from the last build (no Argo CD needed).
	gen := startFleetServe(t, after, env, "--generator-token-file", genTokenFile)
	versions, genStats := askGenerator(t, gen.base, genToken, 20)
	gen.stop(t)
	if len(versions) != clusters {
		t.Fatalf("the generator answered %d clusters, want %d", len(versions), clusters)
	}

	apps := kube.Dynamic.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}).Namespace("argocd")
	began := time.Now()
	forEachApp(t, clusters, perCluster, func(cluster, component string) error {
		_, err := apps.Create(ctx, &unstructured.Unstructured{Object: fleetApp(cluster, component, versions[cluster])}, metav1.CreateOptions{})
		return err
	})
	created := time.Since(began)
	total := clusters * perCluster
	waitUntil(t, 2*time.Minute, "argocd-server lists every Application", func() bool {
		n, _ := listBytes(t, argo.URL, argoToken, "")
		return n == total
	})
	nAll, allBytes := listBytes(t, argo.URL, argoToken, "")
	_, selBytes := listBytes(t, argo.URL, argoToken, "app.kubernetes.io/managed-by=dynamo-cmp")

	var results []fleetResult
	order := []fleetBuild{}
	for r := range rounds {
		if r%2 == 0 {
			order = append(order, builds...)
		} else {
			rev := slices.Clone(builds)
			slices.Reverse(rev)
			order = append(order, rev...)
		}
	}
	publishes := 0
	for _, b := range order {
		res := fleetResult{build: b.name}
		s := startFleetServe(t, b.bin, env, "--generator-token-file", genTokenFile, "--argocd-url", proxy.url, "--allow-insecure-http",
			"--argocd-token-file", argoTokenFile, "--status-interval", "5s")
		lkg := func() float64 { return s.metric(t, "dynamo_cmp_serve_last_known_good_writes_total", "") }
		reads := func() float64 { return s.metric(t, "dynamo_cmp_serve_outbound_requests_total", `target="argocd"`) }
		// Start: the first reading, and the baseline of every cluster (a last-known-good
		// record each, all Synced and Healthy on the version they are served).
		waitUntil(t, 3*time.Minute, "serve records every cluster's last known good", func() bool { return lkg() >= float64(clusters) })
		res.start = s.usage(t, proxy)
		m0 := s.usage(t, proxy)
		r0 := reads()
		time.Sleep(window)
		res.idle = s.usage(t, proxy).minus(m0)
		res.idleReads = reads() - r0

		// A change of every cluster: a publish of the global layer. The Applications still pin
		// the old version, so serve follows 1,000 rollouts, reading every status interval.
		publishes++
		publishGlobal(t, env, after, dir, publishes)
		var next map[string]string
		waitUntil(t, time.Minute, "the generator serves every cluster a new configVersion", func() bool {
			next, _ = askGenerator(t, s.base, genToken, 1)
			for c, v := range next {
				if versions[c] == v {
					return false
				}
			}
			return true
		})
		m0, r0 = s.usage(t, proxy), reads()
		time.Sleep(window)
		res.busy = s.usage(t, proxy).minus(m0)
		res.busyReads = reads() - r0

		// The rollout step: Argo CD (played by this test) moves every Application to the new
		// version, Synced and Healthy; serve records every cluster's last known good.
		l0 := lkg()
		m0 = s.usage(t, proxy)
		began := time.Now()
		forEachApp(t, clusters, perCluster, func(cluster, component string) error {
			patch, _ := json.Marshal(map[string]any{"spec": fleetApp(cluster, component, next[cluster])["spec"],
				"status": fleetApp(cluster, component, next[cluster])["status"]})
			_, err := apps.Patch(ctx, cluster+"-"+component, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		res.patched = time.Since(began)
		waitUntil(t, 5*time.Minute, "serve sees every cluster Synced and Healthy on the new version", func() bool { return lkg()-l0 >= float64(clusters) })
		res.stepDone = time.Since(began)
		res.step = s.usage(t, proxy).minus(m0)
		res.end = s.usage(t, proxy)
		s.stop(t)
		versions = next
		results = append(results, res)
		t.Logf("%s: %+v", b.name, res)
	}

	fmt.Printf("\n### serve with %d clusters and %d Applications (argocd-server %s, no controller)\n\n", clusters, total, harness.ArgoCDVersion())
	fmt.Printf("Machine: %d CPUs (shared), %s. Applications created in %s. The list answer: %d Applications, %d bytes (%d per Application); with the selector %d bytes.\n\n",
		runtime.NumCPU(), runtime.Version(), created.Round(time.Second), nAll, allBytes, allBytes/int64(max(nAll, 1)), selBytes)
	fmt.Printf("The generator's answer for %d clusters: %d bytes, p50 %s, max %s (%d requests, cache warm).\n\n", clusters, genStats.bytes, genStats.p50, genStats.max, genStats.n)
	fmt.Printf("| build | start: CPU | idle %s: list calls, bytes from Argo CD on the wire (gzip), CPU | following %d clusters %s: list calls, bytes, CPU | rollout step: Applications updated in, all %d clusters recorded after, CPU | RSS at end (peak) |\n", window, clusters, window, clusters)
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range results {
		fmt.Printf("| %s | %s | %.0f, %s, %s | %.0f, %s, %s | %s, %s, %s | %d MiB (%d MiB) |\n", r.build, r.start.cpu.Round(10*time.Millisecond),
			r.idleReads, mib(r.idle.bytes), r.idle.cpu.Round(10*time.Millisecond),
			r.busyReads, mib(r.busy.bytes), r.busy.cpu.Round(10*time.Millisecond),
			r.patched.Round(time.Second), r.stepDone.Round(time.Second), r.step.cpu.Round(10*time.Millisecond),
			r.end.rssKB>>10, r.end.hwmKB>>10)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type fleetResult struct {
	build                   string
	start, idle, busy, step usage
	end                     usage
	idleReads, busyReads    float64
	patched, stepDone       time.Duration
}

// usage is what serve used: CPU (user + system), bytes received from Argo CD through the
// proxy, and its resident memory now and at its peak.
type usage struct {
	cpu          time.Duration
	bytes        int64
	rssKB, hwmKB int64
}

func (u usage) minus(o usage) usage {
	return usage{cpu: u.cpu - o.cpu, bytes: u.bytes - o.bytes, rssKB: u.rssKB, hwmKB: u.hwmKB}
}

type fleetServe struct {
	cmd     *exec.Cmd
	base    string
	metrics string
	done    chan struct{}
}

func startFleetServe(t *testing.T, bin string, env []string, args ...string) *fleetServe {
	t.Helper()
	addr, opsAddr := freeAddr(t), freeAddr(t)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nice", append([]string{"-n", "5", bin, "serve", "--listen", addr, "--metrics-address", opsAddr}, args...)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := harness.StartChild(cmd); err != nil { // dies with the test (nice execs serve)
		t.Fatal(err)
	}
	s := &fleetServe{cmd: cmd, base: "http://" + addr, metrics: "http://" + opsAddr + "/metrics", done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(s.done) }()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("%s serve log (tail):\n%s", bin, data[max(0, len(data)-6000):])
		}
	})
	waitUntil(t, 60*time.Second, "dynamo-cmp serve /readyz", func() bool {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

func (s *fleetServe) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// metric sums the samples of name whose labels contain match.
func (s *fleetServe) metric(t *testing.T, name, match string) float64 {
	t.Helper()
	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		if rest := strings.TrimPrefix(line, name); rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// usage reads serve's CPU and memory from /proc (the process under nice is serve itself:
// nice execs it) and the bytes the proxy carried from Argo CD.
func (s *fleetServe) usage(t *testing.T, p *countingProxy) usage {
	t.Helper()
	pid := s.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u := usage{cpu: time.Duration(ut+st) * 10 * time.Millisecond, bytes: p.down.Load()}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			u.rssKB = n
		case "VmHWM":
			u.hwmKB = n
		}
	}
	return u
}

// countingProxy forwards 127.0.0.1 connections to target and counts the bytes sent back.
type countingProxy struct {
	url  string
	down atomic.Int64
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{url: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(countWriter{c, &p.down}, up)
				c.Close()
			}()
		}
	}()
	return p
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

type genStats struct {
	n        int
	bytes    int
	p50, max time.Duration
}

// askGenerator asks serve's generator API n times as the ApplicationSet controller does and
// returns each cluster's configVersion.
func askGenerator(t *testing.T, base, token string, n int) (map[string]string, genStats) {
	t.Helper()
	var st genStats
	var times []time.Duration
	versions := map[string]string{}
	for range n {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/getparams.execute",
			strings.NewReader(`{"applicationSetName":"cluster-bootstrap","input":{"parameters":{}}}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		began := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		times = append(times, time.Since(began))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("generator: HTTP %d %v: %.300s", resp.StatusCode, err, body)
		}
		var answer struct {
			Output struct {
				Parameters []struct {
					Cluster       string `json:"cluster"`
					ConfigVersion string `json:"configVersion"`
				} `json:"parameters"`
			} `json:"output"`
		}
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatal(err)
		}
		st.bytes = len(body)
		for _, p := range answer.Output.Parameters {
			versions[p.Cluster] = p.ConfigVersion
		}
	}
	slices.Sort(times)
	st.n, st.p50, st.max = n, times[len(times)/2].Round(100*time.Microsecond), times[len(times)-1].Round(100*time.Microsecond)
	return versions, st
}

// listBytes lists the Applications as serve does and returns how many and the answer's size.
func listBytes(t *testing.T, base, token, selector string) (int, int64) {
	t.Helper()
	u := base + "/api/v1/applications"
	if selector != "" {
		u += "?" + url.Values{"selector": {selector}}.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("list: HTTP %d %v", resp.StatusCode, err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	return len(list.Items), int64(len(body))
}

// forEachApp runs fn for every Application of the fleet, 8 at a time.
func forEachApp(t *testing.T, clusters, perCluster int, fn func(cluster, component string) error) {
	t.Helper()
	work := make(chan [2]string)
	var wg sync.WaitGroup
	var first atomic.Value
	for range 8 {
		wg.Go(func() {
			for w := range work {
				if err := fn(w[0], w[1]); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for i := range clusters {
		for _, comp := range fleetComponents[:perCluster] {
			work <- [2]string{fmt.Sprintf("cluster-%04d", i), comp}
		}
	}
	close(work)
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		t.Fatal(err)
	}
}

// publishGlobal publishes a new version of the global layer (a label changed).
func publishGlobal(t *testing.T, env []string, bin, dir string, i int) {
	t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("global-%d.yaml", i))
	layer := fmt.Sprintf("namespaces:\n  - namespace: monitoring\n    labels:\n      bench: \"%d\"\n", i)
	if err := os.WriteFile(f, []byte(layer), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nice", "-n", "10", bin, "config", "publish", "-f", f, "--layer", "global", "-m", "bench", "--actor", "bench")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("publish global: %v\n%.2000s", err, out)
	}
}

// fleetApp is an Application of the matrix example ApplicationSet (one per cluster and
// component) as Argo CD reports it once Synced and Healthy on version: its status holds what
// a 7-object sync leaves (resources, the operation's result, three history entries).
func fleetApp(cluster, component, version string) map[string]any {
	source := map[string]any{"repoURL": "https://git.example.com/platform/bootstrap.git", "targetRevision": "HEAD", "path": "dynamo-cmp",
		"plugin": map[string]any{"name": harness.ProductPluginName, "parameters": []any{
			map[string]any{"name": "cluster", "string": cluster},
			map[string]any{"name": "configVersion", "string": version},
			map[string]any{"name": "components", "array": []any{component}},
		}}}
	rev := "0123456789abcdef0123456789abcdef01234567"
	at := "2026-12-07T22:00:00Z"
	var resources, results []any
	for i, kind := range []string{"Namespace", "ResourceQuota", "LimitRange", "Role", "RoleBinding", "NetworkPolicy", "NetworkPolicy"} {
		name := fmt.Sprintf("%s-%s-%d", cluster, component, i)
		group, version := "", "v1"
		switch kind {
		case "Role", "RoleBinding":
			group = "rbac.authorization.k8s.io"
		case "NetworkPolicy":
			group = "networking.k8s.io"
		}
		ns := "team-" + component
		if kind == "Namespace" {
			ns = ""
		}
		resources = append(resources, map[string]any{"group": group, "version": version, "kind": kind, "namespace": ns, "name": name,
			"status": "Synced", "health": map[string]any{"status": "Healthy"}})
		results = append(results, map[string]any{"group": group, "version": version, "kind": kind, "namespace": ns, "name": name,
			"status": "Synced", "message": strings.ToLower(kind) + "/" + name + " serverside-applied", "hookPhase": "Running", "syncPhase": "Sync"})
	}
	var history []any
	for i := range 3 {
		history = append(history, map[string]any{"id": i, "revision": rev, "deployedAt": at, "deployStartedAt": at, "source": source,
			"initiatedBy": map[string]any{"automated": true}})
	}
	return map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": cluster + "-" + component, "namespace": "argocd",
			"labels":      map[string]any{"app.kubernetes.io/managed-by": "dynamo-cmp", "dynamo-cmp.io/cluster": cluster, "dynamo-cmp.io/component": component},
			"annotations": map[string]any{"dynamo-cmp.io/config-version": version}},
		"spec": map[string]any{"project": "platform", "source": source, "destination": map[string]any{"name": cluster},
			"syncPolicy": map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true},
				"retry": map[string]any{"limit": 3, "backoff": map[string]any{"duration": "10s", "factor": 2, "maxDuration": "2m"}}}},
		"status": map[string]any{
			"sync":      map[string]any{"status": "Synced", "revision": rev, "comparedTo": map[string]any{"source": source, "destination": map[string]any{"name": cluster}}},
			"health":    map[string]any{"status": "Healthy", "lastTransitionTime": at},
			"resources": resources, "history": history, "reconciledAt": at, "sourceType": "Plugin", "controllerNamespace": "argocd",
			"summary": map[string]any{},
			"operationState": map[string]any{
				"operation": map[string]any{"sync": map[string]any{"revision": rev, "prune": true, "source": source},
					"initiatedBy": map[string]any{"automated": true}, "retry": map[string]any{"limit": 3}},
				"phase": "Succeeded", "message": "successfully synced (all tasks run)", "startedAt": at, "finishedAt": at,
				"syncResult": map[string]any{"resources": results, "revision": rev, "source": source},
			},
		},
	}
}
