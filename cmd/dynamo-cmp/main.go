// Command dynamo-cmp renders cluster bootstrap configuration kept in DynamoDB as Kubernetes
// manifests for Argo CD. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// The image is FROM scratch (no /etc/ssl): these CA roots verify the AWS endpoints
	// (DynamoDB, STS for IRSA) when the system has none. Where the system has roots (a
	// workstation, a base image with ca-certificates) those are used instead.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:], cli.EnvFromList(os.Environ()))
	stop()
	os.Exit(code)
}
