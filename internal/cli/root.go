package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK = 0
	// ExitInvalid: the configuration or the input is invalid (validation errors, bad flags).
	ExitInvalid = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
	// ExitFailed: the command could not do its work (store unreachable, timeout, conflict ...).
	ExitFailed = 3
)

// Version is stamped at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// IOStreams are the standard streams of a command.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Env is the process environment as a map; tests pass their own.
type Env map[string]string

// EnvFromList turns os.Environ()-style "KEY=value" pairs into an Env.
func EnvFromList(list []string) Env {
	env := make(Env, len(list))
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Get returns the first non-empty value among the given variables.
func (e Env) Get(names ...string) string {
	for _, n := range names {
		if v := e[n]; v != "" {
			return v
		}
	}
	return ""
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode marks err with an exit code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// errReported is a failure whose message the command already printed.
var errReported = errors.New("reported")

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, streams IOStreams, args []string, env Env) int {
	root := newRoot(streams, env)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	code := ExitUsage
	if errors.As(err, &ee) {
		code = ee.code
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	}
	return code
}

func newRoot(streams IOStreams, env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "dynamo-cmp",
		Short: "Cluster bootstrap configuration from DynamoDB, rendered for Argo CD",
		Long: `dynamo-cmp keeps the bootstrap configuration of Kubernetes clusters (namespaces, quotas,
RBAC, network policies, Calico, add-ons) in one DynamoDB table, layered global → env → cluster,
and renders it as Kubernetes manifests: as an Argo CD Config Management Plugin (generate),
offline (render), and with the operators' tools to publish, diff and roll back.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%w (see %s --help)", err, c.CommandPath()))
	})
	root.AddCommand(
		newRenderCommand(streams, env),
		newGenerateCommand(streams, env),
		newParametersCommand(streams, env),
		newTableCommand(streams, env),
		newConfigCommand(streams, env),
		newClustersCommand(streams, env),
		newRolloutCommand(streams, env),
		newPolicyCommand(streams, env),
		newServeCommand(streams, env),
		newSourceCommand(streams, env),
		newImportCommand(streams, env),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group (config, rollout …) refuse an unknown
// subcommand as a usage error. Cobra does so for the root only: below it, `dynamo-cmp config
// publsh -f …` printed the group's help and exited 0, so a script saw a publish succeed.
// A group run alone still prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if cmd == cmd.Root() || !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2 // cobra's default for the root
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
		}
		return withCode(ExitUsage, fmt.Errorf("%s; see %s --help", msg, c.CommandPath()))
	}
}
