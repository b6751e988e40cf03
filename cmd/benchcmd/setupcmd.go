package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

// runSetup publishes the synthetic cluster into a new table and prints the environment of a
// generate that renders it, one `export` per line, for profiling or reproducing by hand:
//
//	eval "$(benchcmd setup -endpoint http://127.0.0.1:PORT -dir /tmp/b)"; dynamo-cmp generate
func runSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	var c commonFlags
	c.register(fs, false)
	kind := fs.String("request", reqPinned, "pinned or latest")
	_ = fs.Parse(args)
	if err := c.check(); err != nil {
		return err
	}
	if c.dir == "" {
		return fmt.Errorf("-dir is required (it holds the home directory generate runs with)")
	}
	fx, err := newFixture(ctx, c.endpoint, c.namespaces, c.dir)
	if err != nil {
		return err
	}
	for _, kv := range fx.generateEnv(*kind, c.endpoint) {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Printf("export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return nil
}
