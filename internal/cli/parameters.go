package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DefaultParametersTimeout bounds the dynamic parameters command (the Argo CD UI waits on it).
const DefaultParametersTimeout = 10 * time.Second

func newParametersCommand(streams IOStreams, env Env) *cobra.Command {
	var so storeOptions
	cmd := &cobra.Command{
		Use:   "parameters",
		Short: "Print the plugin's dynamic parameter announcements (what is published for the cluster)",
		Long: `Parameters is the dynamic parameters command of plugin.yaml. For the Application's cluster it
announces, for display in the Argo CD UI, the configVersion "latest" renders now and the head
of each layer (version, who, when, why). Without a cluster parameter, when DynamoDB cannot be
read, or when the Application's Argo CD project is not in the cluster record's projects, it
prints [] (and the reason on stderr): the announcements are information, and the
Application must stay editable.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			anns, warn := announcements(cmd.Context(), env, so)
			if warn != nil {
				fmt.Fprintf(streams.ErrOut, "dynamo-cmp parameters: %v\n", warn)
			}
			if anns == nil {
				anns = []plugin.Announcement{}
			}
			data, err := json.Marshal(anns)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "%s\n", data)
			return err
		},
	}
	so.addFlags(cmd.Flags(), env, DefaultParametersTimeout)
	return cmd
}

func announcements(ctx context.Context, env Env, so storeOptions) ([]plugin.Announcement, error) {
	req, err := plugin.ParseRequest(env)
	if req.Cluster == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := so.config(env)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, so.timeout)
	defer cancel()
	st, err := store.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	read, err := st.ReadCluster(ctx, store.ClusterRequest{Cluster: req.Cluster, Environment: req.Environment})
	if err != nil {
		return nil, err
	}
	// An Application of a project the cluster does not allow learns nothing of it: no
	// versions, actors or messages, only why. Argo CD v3.5 sends no ARGOCD_APP_PROJECT_NAME
	// to the parameters command (reposerver/repository populatePluginAppDetails passes only
	// the app name and source), so for a project-limited cluster an unknown project gets
	// the versions, which the generator serves anyway, but not who published them or why.
	withhold := req.Project == ""
	if !withhold {
		if err := checkProject(req.Project, read.Cluster); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", req.Cluster, err)
		}
	}
	refs := []config.LayerRef{config.GlobalLayer, config.EnvLayer(read.Environment), config.ClusterLayer(req.Cluster)}
	heads, err := st.Heads(ctx, refs...)
	if err != nil {
		return nil, err
	}
	var lh []plugin.LayerHead
	for _, ref := range refs {
		h := heads[ref]
		head := plugin.LayerHead{Ref: ref, Version: h.Version, At: h.At, Actor: h.Actor, Message: h.Message}
		if withhold {
			head.Actor, head.Message, head.Withheld = "", "", true
		}
		lh = append(lh, head)
	}
	return plugin.Published(req.Cluster, read.Version, lh), nil
}
