package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// runSeedFleet creates -table in DynamoDB Local and registers -clusters clusters in it (the
// layers of registerClusters: a global layer, env/dev and env/prod, one layer per cluster
// named cluster-0000 ...), for the serve fleet benchmark (make bench-serve-fleet), which then
// runs serve on that table.
func runSeedFleet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed-fleet", flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "DynamoDB Local endpoint (http://127.0.0.1:PORT)")
	table := fs.String("table", "", "table to create")
	clusters := fs.Int("clusters", 1000, "registered clusters")
	_ = fs.Parse(args)
	if !strings.HasPrefix(*endpoint, "http://127.0.0.1:") {
		return fmt.Errorf("-endpoint: DynamoDB Local on 127.0.0.1 is required")
	}
	if *table == "" {
		return fmt.Errorf("-table is required")
	}
	st, err := store.New(ctx, store.Config{Table: *table, Region: "eu-west-1", Endpoint: *endpoint,
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "bench", SecretAccessKey: "bench"}})
	if err != nil {
		return err
	}
	if _, err := st.CreateTable(ctx); err != nil {
		return err
	}
	began := time.Now()
	if err := registerClusters(ctx, st, *clusters); err != nil {
		return err
	}
	fmt.Printf("registered %d clusters in %s\n", *clusters, time.Since(began).Round(time.Millisecond))
	return nil
}
