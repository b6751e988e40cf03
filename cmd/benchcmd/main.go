// Command benchcmd measures dynamo-cmp the way users weigh it: `generate` end to end as Argo
// CD runs it (a fresh process against DynamoDB) against `kustomize build` of the identical
// manifests from disk, process start-up, 50 concurrent generate processes for a minute, and
// the serve generator API under concurrent polling. It is a development tool, not part of the
// product binary; scripts/bench-e2e.sh, scripts/load.sh and scripts/bench.sh run it (they
// start DynamoDB Local and build the binaries).
//
//	benchcmd e2e        -endpoint URL -bin dynamo-cmp -kustomize kustomize [-runs 30] [-namespaces 100] [-dir DIR]
//	benchcmd load       -endpoint URL -bin dynamo-cmp [-procs 50] [-duration 60s] [-namespaces 100]
//	benchcmd serve-load -endpoint URL [-clusters 1000] [-pollers 20] [-duration 30s]
//	benchcmd seed-fleet -endpoint URL -table T [-clusters 1000]   (the registry of make bench-serve-fleet)
//	benchcmd setup      -endpoint URL -dir DIR [-namespaces 100] [-request pinned|latest]   (prints the env of a generate)
//	benchcmd render-table < `go test -bench BenchmarkRender` output
//
// Every table is Markdown, ready for docs/performance.md. The endpoint must be DynamoDB
// Local on 127.0.0.1 (a table is created there for each run).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "e2e":
		err = runE2E(ctx, args)
	case "load":
		err = runLoad(ctx, args)
	case "serve-load":
		err = runServeLoad(ctx, args)
	case "setup":
		err = runSetup(ctx, args)
	case "seed-fleet":
		err = runSeedFleet(ctx, args)
	case "render-table":
		err = renderTable(os.Stdin, os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchcmd %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchcmd e2e|load|serve-load|seed-fleet|setup|render-table [flags] (see the package comment)")
	os.Exit(2)
}

// commonFlags are the flags of every command that talks to DynamoDB Local.
type commonFlags struct {
	endpoint   string
	bin        string
	namespaces int
	dir        string
}

func (c *commonFlags) register(fs *flag.FlagSet, needBin bool) {
	fs.StringVar(&c.endpoint, "endpoint", os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), "DynamoDB Local endpoint (http://127.0.0.1:PORT)")
	if needBin {
		fs.StringVar(&c.bin, "bin", "bin/dynamo-cmp", "the dynamo-cmp binary to run (as scripts/build.sh builds it)")
	}
	fs.IntVar(&c.namespaces, "namespaces", 100, "namespaces of the synthetic cluster (7 objects each)")
	fs.StringVar(&c.dir, "dir", "", "working directory (default: a temporary directory, removed at the end)")
}

func (c *commonFlags) check() error {
	if c.endpoint == "" {
		return fmt.Errorf("-endpoint is required (DynamoDB Local, http://127.0.0.1:PORT)")
	}
	if c.bin != "" {
		if _, err := os.Stat(c.bin); err != nil {
			return fmt.Errorf("-bin: %w (build it with scripts/build.sh)", err)
		}
	}
	return nil
}

// workDir returns c.dir, or a temporary directory and its clean-up.
func (c *commonFlags) workDir() (string, func(), error) {
	if c.dir != "" {
		return c.dir, func() {}, os.MkdirAll(c.dir, 0o755)
	}
	d, err := os.MkdirTemp("", "dynamo-cmp-bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}
