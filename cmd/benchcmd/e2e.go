package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
)

// contender is one command of the side-by-side comparison.
type contender struct {
	name string
	env  []string
	bin  string
	args []string
	// want is the exact stdout every run must print (nil: checked semantically once).
	want []byte

	walls durations
	rss   []int64
	cpu   durations
}

func runE2E(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("e2e", flag.ExitOnError)
	var c commonFlags
	c.register(fs, true)
	kustomize := fs.String("kustomize", "", "the kustomize binary (v5.8.2)")
	runs := fs.Int("runs", 30, "interleaved runs of each command")
	warmup := fs.Int("warmup", 10, "unmeasured warm-up rounds before the measured ones")
	strict := fs.Bool("strict", false, "exit 1 when a goal is missed")
	_ = fs.Parse(args)
	if err := c.check(); err != nil {
		return err
	}
	if *kustomize == "" {
		return fmt.Errorf("-kustomize is required")
	}
	dir, cleanup, err := c.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	load0 := loadAverage()

	fx, err := newFixture(ctx, c.endpoint, c.namespaces, dir)
	if err != nil {
		return err
	}
	gen := func(kind string, extra ...string) *contender {
		return &contender{name: "dynamo-cmp generate (" + kind + ")", env: fx.generateEnv(kind, c.endpoint), bin: c.bin, args: append([]string{"generate"}, extra...)}
	}
	pinned, latest := gen(reqPinned), gen(reqLatest)
	pinned.name = "dynamo-cmp generate (configVersion pinned)"
	latest.name = "dynamo-cmp generate (latest)"

	// The reference outputs: both requests print the same bytes.
	for _, g := range []*contender{pinned, latest} {
		r, err := measure(ctx, g.env, g.bin, g.args...)
		if err != nil || r.code != 0 || len(r.stderr) != 0 {
			return fmt.Errorf("%s: exit %d, %v: %s", g.name, r.code, err, r.stderr)
		}
		g.want = r.stdout
	}
	if !bytes.Equal(pinned.want, latest.want) {
		return fmt.Errorf("the pinned and the latest generate differ")
	}
	objects := bytes.Count(pinned.want, []byte("\n"))

	// The same manifests on disk for kustomize, one file per object, exported by generate
	// itself (-o yaml), and checked to build into the very same objects.
	y, err := measure(ctx, pinned.env, c.bin, "generate", "-o", "yaml")
	if err != nil || y.code != 0 {
		return fmt.Errorf("generate -o yaml: exit %d, %v: %s", y.code, err, y.stderr)
	}
	kdir := filepath.Join(dir, "kustomize")
	files, err := exportKustomization(y.stdout, kdir)
	if err != nil {
		return err
	}
	kust := &contender{name: "kustomize build (" + kustomizeVersion(ctx, *kustomize) + ")", env: []string{"HOME=" + fx.home, "PATH=/usr/bin:/bin"},
		bin: *kustomize, args: []string{"build", kdir}}
	kb, err := measure(ctx, kust.env, kust.bin, kust.args...)
	if err != nil || kb.code != 0 {
		return fmt.Errorf("kustomize build: exit %d, %v: %s", kb.code, err, kb.stderr)
	}
	if err := sameObjects(pinned.want, kb.stdout); err != nil {
		return fmt.Errorf("kustomize build and generate disagree: %w", err)
	}
	kust.want = kb.stdout

	// Warm-up rounds, not measured: DynamoDB Local (a JVM) compiles its hot paths, the
	// page cache holds kustomize's files and both binaries, as on a server that has been
	// running for a while.
	contenders := []*contender{pinned, latest, kust}
	for i := 0; i < *warmup; i++ {
		for _, k := range contenders {
			if _, err := measure(ctx, k.env, k.bin, k.args...); err != nil {
				return err
			}
		}
	}
	// Interleaved: each round runs every contender once, in a rotating order, so drift of
	// the shared machine falls on all of them alike.
	for i := 0; i < *runs; i++ {
		for j := range contenders {
			k := contenders[(i+j)%len(contenders)]
			r, err := measure(ctx, k.env, k.bin, k.args...)
			if err != nil {
				return err
			}
			if r.code != 0 || !bytes.Equal(r.stdout, k.want) {
				return fmt.Errorf("%s, run %d: exit %d, output differs from the reference: %s", k.name, i, r.code, r.stderr)
			}
			k.walls = append(k.walls, r.wall)
			k.rss = append(k.rss, r.maxRSS)
			k.cpu = append(k.cpu, r.userSys)
		}
	}

	// DynamoDB per generate: round trips as generate logs them, calls as the proxy sees
	// them, capacity as DynamoDB reports it (the same read in-process with ReturnConsumedCapacity).
	proxy, err := faultproxy.New(c.endpoint)
	if err != nil {
		return err
	}
	defer proxy.Close()
	type cost struct {
		kind             string
		roundTrips       int
		calls            string
		rcu              float64
		inProcessCalls   int
		inProcessRoundTr int
	}
	var costs []cost
	for _, kind := range []string{reqPinned, reqLatest} {
		proxy.ClearLog()
		env := append(fx.generateEnv(kind, proxy.URL()), "DYNAMO_CMP_LOG_LEVEL=info")
		r, err := measure(ctx, env, c.bin, "generate")
		if err != nil || r.code != 0 {
			return fmt.Errorf("generate with its step log: exit %d, %v: %s", r.code, err, r.stderr)
		}
		rt, err := loggedRoundTrips(r.stderr)
		if err != nil {
			return err
		}
		calls, rcu, inRT, err := fx.readCost(ctx, kind)
		if err != nil {
			return err
		}
		costs = append(costs, cost{kind: kind, roundTrips: rt, calls: proxy.Summary(), rcu: rcu, inProcessCalls: calls, inProcessRoundTr: inRT})
	}

	// Start-up: from exec to the first DynamoDB request reaching the proxy, with the
	// instance metadata endpoint pointed at the proxy too (a probe would show up there).
	var startup, versionWall durations
	foreign := 0
	for i := 0; i < *runs; i++ {
		proxy.ClearLog()
		env := append(fx.generateEnv(reqPinned, proxy.URL()), "AWS_EC2_METADATA_SERVICE_ENDPOINT="+proxy.URL())
		r, err := measure(ctx, env, c.bin, "generate")
		if err != nil || r.code != 0 {
			return fmt.Errorf("generate through the proxy: exit %d, %v: %s", r.code, err, r.stderr)
		}
		startup = append(startup, proxy.FirstRequest().Sub(r.start))
		foreign += len(proxy.Foreign())
		v, err := measure(ctx, pinned.env, c.bin, "--version")
		if err != nil || v.code != 0 {
			return fmt.Errorf("dynamo-cmp --version: exit %d, %v", v.code, err)
		}
		versionWall = append(versionWall, v.wall)
	}
	load1 := loadAverage()

	// The report.
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "### generate vs kustomize build: %d namespaces, %d objects, %d interleaved runs each (after %d warm-up rounds)\n\n", c.namespaces, objects, *runs, *warmup)
	fmt.Fprintf(w, "Machine: %s, %d CPUs (shared), %s, load average %s before and %s after. kustomize reads %d files (one per object) and a kustomization.yaml; its output holds the same %d objects as generate's (checked).\n\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), load0, load1, files, objects)
	fmt.Fprintln(w, "| command | wall median | wall p90 | peak RSS median | peak RSS max | CPU (user+sys) median |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, k := range contenders {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", k.name, ms(k.walls.quantile(0.5)), ms(k.walls.quantile(0.9)),
			mb(medianInt(k.rss)), mb(maxInt(k.rss)), ms(k.cpu.quantile(0.5)))
	}
	ratio := float64(kust.walls.quantile(0.5)) / float64(pinned.walls.quantile(0.5))
	rssRatio := float64(medianInt(kust.rss)) / float64(medianInt(pinned.rss))
	fmt.Fprintf(w, "\nkustomize build / generate (pinned): %.1f× the median wall time, %.1f× the median peak RSS.\n", ratio, rssRatio)
	ratioLatest := float64(kust.walls.quantile(0.5)) / float64(latest.walls.quantile(0.5))
	fmt.Fprintf(w, "kustomize build / generate (latest): %.1f× the median wall time.\n\n", ratioLatest)
	goalTime := ratio >= 10 && ratioLatest >= 10
	goalRSS := medianInt(pinned.rss) < medianInt(kust.rss) && medianInt(latest.rss) < medianInt(kust.rss)
	fmt.Fprintf(w, "Goal \"median wall time at most a tenth of kustomize's\": %s. Goal \"peak memory lower\": %s.\n\n", verdict(goalTime), verdict(goalRSS))

	fmt.Fprintln(w, "### DynamoDB per generate")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| request | round trips (generate's step log) | calls (at a proxy) | consumed read capacity |")
	fmt.Fprintln(w, "| --- | ---: | --- | ---: |")
	for _, k := range costs {
		fmt.Fprintf(w, "| %s | %d | %s | %g RCU |\n", k.kind, k.roundTrips, k.calls, k.rcu)
		if k.roundTrips != k.inProcessRoundTr {
			fmt.Fprintf(w, "\n(the in-process read counted %d round trips)\n", k.inProcessRoundTr)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Process start-up")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measurement | median | p90 |")
	fmt.Fprintln(w, "| --- | ---: | ---: |")
	fmt.Fprintf(w, "| exec of generate → its first DynamoDB request | %s | %s |\n", ms(startup.quantile(0.5)), ms(startup.quantile(0.9)))
	fmt.Fprintf(w, "| exec → exit of `dynamo-cmp --version` (the process floor) | %s | %s |\n", ms(versionWall.quantile(0.5)), ms(versionWall.quantile(0.9)))
	fmt.Fprintf(w, "\nRequests to anything but DynamoDB (instance metadata probes) during %d runs: %d.\n", *runs, foreign)
	if *strict && (!goalTime || !goalRSS || foreign > 0) {
		w.Flush()
		return fmt.Errorf("a goal was missed")
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// exportKustomization writes each object of a YAML stream to its own file in dir, with a
// kustomization.yaml listing them in stream order, and returns the number of files.
func exportKustomization(stream []byte, dir string) (int, error) {
	nodes, err := kio.FromBytes(stream)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var k strings.Builder
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for i, n := range nodes {
		name := fmt.Sprintf("%04d-%s-%s", i, strings.ToLower(n.GetKind()), n.GetName())
		if ns := n.GetNamespace(); ns != "" {
			name = fmt.Sprintf("%04d-%s-%s-%s", i, strings.ToLower(n.GetKind()), ns, n.GetName())
		}
		name += ".yaml"
		s, err := n.String()
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			return 0, err
		}
		fmt.Fprintf(&k, "- %s\n", name)
	}
	return len(nodes), os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k.String()), 0o644)
}

// sameObjects checks that a JSON-lines stream and a YAML stream hold the same objects (in
// any order, with any key order).
func sameObjects(jsonLines, yamlStream []byte) error {
	var a []string
	for _, line := range bytes.Split(bytes.TrimSpace(jsonLines), []byte("\n")) {
		c, err := canonical(line)
		if err != nil {
			return err
		}
		a = append(a, c)
	}
	nodes, err := kio.FromBytes(yamlStream)
	if err != nil {
		return err
	}
	var b []string
	for _, n := range nodes {
		raw, err := n.MarshalJSON()
		if err != nil {
			return err
		}
		c, err := canonical(raw)
		if err != nil {
			return err
		}
		b = append(b, c)
	}
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		return fmt.Errorf("%d objects against %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Errorf("objects differ:\n%s\n%s", a[i], b[i])
		}
	}
	return nil
}

func canonical(raw []byte) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v) // maps marshal with sorted keys
	return string(out), err
}

// loggedRoundTrips finds roundTrips in generate's dynamodb-e10 step log line.
func loggedRoundTrips(stderr []byte) (int, error) {
	for _, line := range bytes.Split(stderr, []byte("\n")) {
		var step struct {
			Step       string `json:"step"`
			RoundTrips *int   `json:"roundTrips"`
		}
		if json.Unmarshal(line, &step) == nil && strings.HasSuffix(step.Step, "-dynamodb-e10") && step.RoundTrips != nil {
			return *step.RoundTrips, nil
		}
	}
	return 0, fmt.Errorf("no dynamodb-e10 step with roundTrips in generate's log:\n%s", stderr)
}

func kustomizeVersion(ctx context.Context, bin string) string {
	r, err := measure(ctx, []string{"PATH=/usr/bin:/bin"}, bin, "version")
	if err != nil || r.code != 0 {
		return "kustomize"
	}
	return "kustomize " + strings.TrimSpace(string(r.stdout))
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
