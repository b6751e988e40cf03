package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func newConfigCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Publish, inspect, diff and roll back configuration layers in DynamoDB",
	}
	cmd.AddCommand(
		newPublishCommand(streams, env),
		newDraftsCommand(streams, env),
		newGetCommand(streams, env),
		newExportCommand(streams, env),
		newHistoryCommand(streams, env),
		newDiffCommand(streams, env),
		newRollbackCommand(streams, env),
		newValidateCommand(streams, env),
		newConfigRenderCommand(streams, env),
		newOrphansCommand(streams, env),
		newExplainCommand(streams, env),
	)
	return cmd
}

func parseLayerFlag(s string) (config.LayerRef, error) {
	if s == "" {
		return config.LayerRef{}, withCode(ExitUsage, fmt.Errorf("--layer is required: global, env/<environment> or cluster/<name>"))
	}
	ref, err := config.ParseLayerRef(s)
	if err != nil {
		return ref, withCode(ExitUsage, err)
	}
	return ref, nil
}

// parseClusterFlag checks a --cluster value: a wrong name is a usage error (exit 2), caught
// before anything is read.
func parseClusterFlag(s string) error {
	if s == "" {
		return withCode(ExitUsage, fmt.Errorf("--cluster is required"))
	}
	if _, err := config.ParseLayerRef(config.ClusterLayer(s).String()); err != nil {
		return withCode(ExitUsage, fmt.Errorf("--cluster: %w", err))
	}
	return nil
}

// change flags shared by publish, drafts publish and rollback.
type changeFlags struct {
	layer   string
	message string
	actor   string
	dryRun  bool
	base    baseVersionFlag
	// allowEmpty permits publishing no entries (publish, drafts publish).
	allowEmpty bool
	// expected is the head version the change is based on (nil: whatever the head is), and
	// expectedFrom where it came from (baseFlagSource, baseHeaderSource) for messages.
	expected     *int
	expectedFrom string
}

func (c *changeFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.layer, "layer", "", "layer: global, env/<environment> or cluster/<name> (required)")
	f.StringVarP(&c.message, "message", "m", "", "why: recorded in the version and the audit trail")
	f.StringVar(&c.actor, "actor", "", "who: recorded in the audit trail (default: the AWS caller identity)")
	f.BoolVar(&c.dryRun, "dry-run", false, "show the diff and validate every affected cluster, but change nothing")
	c.base.add(cmd)
}

// reportChange prints the diff and the outcome of a publish or rollback; between them, what
// between (if set) prints. The outcome stays the last line, for scripts that keep only it.
func reportChange(streams IOStreams, verb string, res *ops.PublishResult, dryRun bool, trace string, between func()) {
	printChanges(streams.Out, res.Changes)
	if between != nil && len(res.Changes) > 0 {
		between()
	}
	clusters := fmt.Sprintf("%d %s validated", len(res.Clusters), plural(len(res.Clusters), "cluster", "clusters"))
	if len(res.Clusters) > 0 && len(res.Clusters) <= 5 {
		clusters += " (" + strings.Join(res.Clusters, ", ") + ")"
	}
	switch {
	case len(res.Changes) == 0 && verb == "publish":
		fmt.Fprintf(streams.Out, "nothing to publish: %s version %d already has these entries\n", res.Ref, res.Base)
	case len(res.Changes) == 0:
		fmt.Fprintf(streams.Out, "nothing to do: %s is at version %d\n", res.Ref, res.Base)
	case dryRun:
		fmt.Fprintf(streams.Out, "dry run: %s would %s over version %d: %s; %s; nothing was changed\n", res.Ref, verb, res.Base, ops.Summary(res.Changes), clusters)
	case verb == "rollback":
		fmt.Fprintf(streams.Out, "rolled back %s from version %d to %d: %s; %s [trace %s]\n", res.Ref, res.Base, res.Version, ops.Summary(res.Changes), clusters, trace)
	default:
		fmt.Fprintf(streams.Out, "published %s version %d (was %d): %s; %s [trace %s]\n", res.Ref, res.Version, res.Base, ops.Summary(res.Changes), clusters, trace)
	}
}
