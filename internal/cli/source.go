package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ocisource"
)

func newSourceCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{Use: "source", Short: "Publish the placeholder source Argo CD Applications point at"}
	var plainHTTP bool
	push := &cobra.Command{
		Use:   "push oci://REGISTRY/REPOSITORY:TAG",
		Short: "Push the placeholder OCI artifact for Applications with an oci:// source (no Git needed)",
		Long: `Builds the placeholder artifact an Application with source.repoURL oci://REGISTRY/REPOSITORY
and plugin dynamo-cmp-v1 needs (one tar+gzip layer holding README.md) and pushes it under TAG.
Credentials come from the Docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json):
its auths, credsStore and credHelpers (for ECR: "credHelpers": {"<account>.dkr.ecr.<region>.amazonaws.com": "ecr-login"}).
Prints the digest pushed; the artifact is reproducible, so pushing again gives the same digest.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := ocisource.Push(cmd.Context(), ocisource.Options{
				Reference:    args[0],
				PlainHTTP:    plainHTTP,
				DockerConfig: dockerConfigPath(env),
			})
			if errors.Is(err, ocisource.ErrReference) || errors.Is(err, ocisource.ErrPlainHTTP) {
				return withCode(ExitUsage, err)
			}
			if err != nil {
				return withCode(ExitFailed, err)
			}
			_, err = fmt.Fprintf(streams.Out, "pushed oci://%s@%s\n", res.Reference, res.Digest)
			return err
		},
	}
	push.Flags().BoolVar(&plainHTTP, "plain-http", false, "talk HTTP, not HTTPS (only for a registry on loopback, for testing)")
	cmd.AddCommand(push)
	return cmd
}

// dockerConfigPath is where the Docker CLI reads its config.json; empty (anonymous) when
// neither DOCKER_CONFIG nor HOME is set.
func dockerConfigPath(env Env) string {
	if dir := env.Get("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	if home := env.Get("HOME"); home != "" {
		return filepath.Join(home, ".docker", "config.json")
	}
	return ""
}
