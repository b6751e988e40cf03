package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/render"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
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
	// expected is the head version the change is based on (nil: whatever the head is).
	expected *int
}

func (c *changeFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.layer, "layer", "", "layer: global, env/<environment> or cluster/<name> (required)")
	f.StringVarP(&c.message, "message", "m", "", "why: recorded in the version and the audit trail")
	f.StringVar(&c.actor, "actor", "", "who: recorded in the audit trail (default: the AWS caller identity)")
	f.BoolVar(&c.dryRun, "dry-run", false, "show the diff and validate every affected cluster, but change nothing")
	c.base.add(cmd)
}

// reportChange prints the diff and the outcome of a publish or rollback.
func reportChange(streams IOStreams, verb string, res *ops.PublishResult, dryRun bool, trace string) {
	printChanges(streams.Out, res.Changes)
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

func newPublishCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var c changeFlags
	var files []string
	cmd := &cobra.Command{
		Use:   "publish -f PATH --layer LAYER [--base-version N] [--allow-empty] [-m MESSAGE] [--dry-run]",
		Short: "Publish layer files as the next version of a layer",
		Long: `Publish reads the layer's files (documents without a "layer" field belong to --layer), shows
the diff against the current version entry by entry, validates every cluster the layer affects
with the change in place, and then moves the layer's head to the new version. A change that
would break any cluster is refused (exit 1) and nothing is written.

A file printed by "config get" or "config export" starts with a version header
("# dynamo-cmp: layer=env/dev version=7"): publishing it changes the layer only if its head is
still at that version, so an edit of a stale copy cannot overwrite someone else's publish.
--base-version N says the same explicitly and overrides the header. If the head has moved,
the publish is refused with a conflict (exit 3) and nothing is written: re-read the layer,
redo the change and publish again. Without a header or --base-version (files kept in Git,
CI), the publish goes over whatever version is the head when it runs.

Files that hold no entries for the layer (an empty file, a bare "---") would remove every
entry: that is refused (exit 1) unless --allow-empty is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(c.layer)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return withCode(ExitUsage, fmt.Errorf("-f is required: the layer's file or directory"))
			}
			layer, err := config.ReadLayerFilesFor(files, ref)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			if c.expected, err = c.base.get(); err != nil {
				return err
			}
			if c.expected == nil {
				if c.expected, err = baseFromFiles(files, ref); err != nil {
					return err
				}
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				return o.publish(ctx, st, ref, layer.Entries, c, nil)
			})
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "layer file or directory (repeatable)")
	cmd.Flags().BoolVar(&c.allowEmpty, "allow-empty", false, "publish even if the files hold no entries (removes every entry of the layer)")
	c.add(cmd)
	o.addFlags(cmd)
	return cmd
}

// publish runs the publish workflow; after a successful publish, done (if set) runs.
func (o *operator) publish(ctx context.Context, st *store.Store, ref config.LayerRef, entries []config.Entry, c changeFlags, done func() error) error {
	trace := newTraceID()
	res, err := ops.Publish(ctx, st, ops.PublishRequest{
		Ref: ref, Entries: entries, Message: c.message, Actor: o.actor(ctx, st, c.actor),
		TraceID: trace, Base: c.expected, AllowEmpty: c.allowEmpty, DryRun: c.dryRun, Progress: o.progress(),
	})
	if res != nil && err == nil {
		reportChange(o.streams, "publish", res, c.dryRun, trace)
	}
	var empty *ops.EmptyLayerError
	if errors.As(err, &empty) {
		return withCode(ExitInvalid, err)
	}
	if f := deadlineFailure("publish", ref, o.so.timeout, trace, err); f != nil {
		return f
	}
	if err != nil {
		return storeError(err)
	}
	if done != nil && !c.dryRun {
		return done()
	}
	return nil
}

func newDraftsCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drafts",
		Short: "Publish or list the draft entries operators edited in the DynamoDB console",
		Long: `Draft items (sort key draft#<kind>#<key>) are edits made in the AWS console. A draft
replaces the entry with the same kind and key in the next version; a draft with the attribute
"$draft": "delete" removes it. See docs/dynamodb.md.`,
	}
	o := &operator{streams: streams, env: env}
	var c changeFlags
	publish := &cobra.Command{
		Use:   "publish --layer LAYER [--base-version N] [-m MESSAGE] [--dry-run]",
		Short: "Publish the layer's drafts as its next version, then delete them",
		Long: `Drafts publish applies the layer's drafts to its head version and publishes the result,
on condition that the head is still at the version the drafts were applied to (a concurrent
publish makes it exit 3 and change nothing). --base-version N also refuses (exit 3) when the
head is not at N, the version you reviewed the drafts against.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(c.layer)
			if err != nil {
				return err
			}
			expected, err := c.base.get()
			if err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				drafts, err := st.Drafts(ctx, ref)
				if err != nil {
					return storeError(err)
				}
				if len(drafts) == 0 {
					fmt.Fprintf(streams.Out, "no drafts for %s\n", ref)
					return nil
				}
				heads, err := st.Heads(ctx, ref)
				if err != nil {
					return storeError(err)
				}
				base := heads[ref].Version
				if expected != nil && *expected != base {
					return storeError(&store.ConflictError{Ref: ref, Expected: *expected, Actual: base})
				}
				current, err := st.ReadVersion(ctx, ref, base)
				if err != nil {
					return storeError(err)
				}
				// The drafts were applied to version base: publish them only over base.
				c.expected = &base
				entries := ops.ApplyDrafts(current.Entries, drafts)
				return o.publish(ctx, st, ref, entries, c, func() error {
					if err := st.DeleteDrafts(ctx, ref, drafts); err != nil {
						return storeError(fmt.Errorf("published, but deleting the %d drafts failed (delete them in the console): %w", len(drafts), err))
					}
					return nil
				})
			})
		},
	}
	c.add(publish)
	publish.Flags().BoolVar(&c.allowEmpty, "allow-empty", false, "publish even if the drafts remove every entry of the layer")
	o.addFlags(publish)

	lo := &operator{streams: streams, env: env}
	var layer string
	list := &cobra.Command{
		Use:   "list --layer LAYER",
		Short: "List a layer's drafts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(layer)
			if err != nil {
				return err
			}
			return lo.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				drafts, err := st.Drafts(ctx, ref)
				if err != nil {
					return storeError(err)
				}
				for _, d := range drafts {
					action := "replace"
					if d.Delete {
						action = "delete"
					}
					fmt.Fprintf(streams.Out, "%s\t%s\n", action, cell(d.Entry.ID()))
				}
				return nil
			})
		},
	}
	list.Flags().StringVar(&layer, "layer", "", "layer (required)")
	lo.addFlags(list)
	cmd.AddCommand(publish, list)
	return cmd
}

// writeLayer writes a layer document as YAML or JSON.
func writeLayer(streams IOStreams, l config.Layer, output string) error {
	doc := l.Document()
	if output == render.FormatJSON {
		data, err := doc.MarshalJSON()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err = streams.Out.Write(buf.Bytes())
		return err
	}
	s, err := doc.String()
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(streams.Out, s)
	return err
}

func newGetCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var layer, output string
	var version int
	cmd := &cobra.Command{
		Use:   "get --layer LAYER [--version N] [-o yaml|json]",
		Short: "Print a version of a layer (default: the published head) as a layer document",
		Long: `Get prints a version of a layer as a layer document. In YAML it starts with the header
"# dynamo-cmp: layer=LAYER version=N" (with -o json that line goes to stderr): edit the file and
"config publish -f" it, and the publish is refused (exit 3) if someone published meanwhile.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(layer)
			if err != nil {
				return err
			}
			if err := checkFormat(output); err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				if version == 0 {
					heads, err := st.Heads(ctx, ref)
					if err != nil {
						return storeError(err)
					}
					h, ok := heads[ref]
					if !ok {
						return storeError(fmt.Errorf("layer %s has never been published: %w", ref, store.ErrNotFound))
					}
					version = h.Version
				}
				l, err := st.ReadVersion(ctx, ref, version)
				if err != nil {
					return storeError(err)
				}
				// The version read, for "config publish" to check (see baseversion.go):
				// a comment header in YAML, a line on stderr with JSON.
				if output == render.FormatJSON {
					fmt.Fprint(streams.ErrOut, versionHeader(ref, l.Version))
				} else {
					fmt.Fprint(streams.Out, versionHeader(ref, l.Version))
				}
				return writeLayer(streams, l, output)
			})
		},
	}
	cmd.Flags().StringVar(&layer, "layer", "", "layer (required)")
	cmd.Flags().IntVar(&version, "version", 0, "version to print (default: the head)")
	cmd.Flags().StringVarP(&output, "output", "o", render.FormatYAML, "yaml or json")
	o.addFlags(cmd)
	return cmd
}

func newExportCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var layers []string
	var dir string
	cmd := &cobra.Command{
		Use:   "export [--layer LAYER ...] [--dir DIR]",
		Short: "Export the published head of layers as layer files (they publish back unchanged)",
		Long: `Export writes the head version of every layer (or of the given ones) as layer documents:
to stdout as one YAML stream, or with --dir as DIR/global.yaml, DIR/env/<env>.yaml and
DIR/cluster/<name>.yaml, which "dynamo-cmp render -f DIR" and "config publish" read back.
Each document starts with "# dynamo-cmp: layer=LAYER version=N": publishing the file back is
refused (exit 3) if the layer moved since the export.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				inv, err := ops.ReadInventory(ctx, st)
				if err != nil {
					return storeError(err)
				}
				var refs []config.LayerRef
				if len(layers) == 0 {
					for _, h := range sortedHeads(inv) {
						refs = append(refs, h.Ref)
					}
				}
				for _, l := range layers {
					ref, err := parseLayerFlag(l)
					if err != nil {
						return err
					}
					if _, ok := inv.Heads[ref]; !ok {
						return storeError(fmt.Errorf("layer %s has never been published: %w", ref, store.ErrNotFound))
					}
					refs = append(refs, ref)
				}
				for i, ref := range refs {
					l, err := st.ReadVersion(ctx, ref, inv.Heads[ref].Version)
					if err != nil {
						return storeError(err)
					}
					text, err := l.Document().String()
					if err != nil {
						return err
					}
					header := versionHeader(ref, l.Version)
					if dir == "" {
						if i > 0 {
							fmt.Fprintln(streams.Out, "---")
						}
						fmt.Fprint(streams.Out, header+text)
						continue
					}
					path := filepath.Join(dir, ref.String()+".yaml")
					if ref.Scope == config.ScopeGlobal {
						path = filepath.Join(dir, "global.yaml")
					}
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						return withCode(ExitFailed, err)
					}
					if err := os.WriteFile(path, []byte(header+text), 0o644); err != nil {
						return withCode(ExitFailed, err)
					}
					fmt.Fprintf(streams.ErrOut, "wrote %s (%s version %d)\n", path, ref, l.Version)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&layers, "layer", nil, "layer to export (repeatable; default: all)")
	cmd.Flags().StringVar(&dir, "dir", "", "write one file per layer under this directory")
	o.addFlags(cmd)
	return cmd
}

func sortedHeads(inv *ops.Inventory) []store.Head {
	out := make([]store.Head, 0, len(inv.Heads))
	for _, h := range inv.Heads {
		out = append(out, h)
	}
	config.SortLayerRefs(out, func(h store.Head) config.LayerRef { return h.Ref })
	return out
}

func newHistoryCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var layer string
	var limit int
	cmd := &cobra.Command{
		Use:   "history --layer LAYER",
		Short: "List a layer's versions and its audit trail (publishes and rollbacks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(layer)
			if err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				heads, err := st.Heads(ctx, ref)
				if err != nil {
					return storeError(err)
				}
				versions, err := st.Versions(ctx, ref)
				if err != nil {
					return storeError(err)
				}
				if len(versions) == 0 {
					return storeError(fmt.Errorf("layer %s has no versions: %w", ref, store.ErrNotFound))
				}
				audit, err := st.Audit(ctx, ref, limit)
				if err != nil {
					return storeError(err)
				}
				tw := newTable(streams.Out, "VERSION", "HEAD", "PUBLISHED", "AT", "ACTOR", "ENTRIES", "MESSAGE")
				for i, v := range versions {
					if limit > 0 && i >= limit {
						break
					}
					head := ""
					if heads[ref].Version == v.Version {
						head = "*"
					}
					published := "yes"
					if !v.Published {
						published = "no (interrupted)"
					}
					tw.row(v.Version, head, published, v.At.UTC().Format(time.RFC3339), v.Actor, v.Entries, oneLine(v.Message))
				}
				tw.flush()
				fmt.Fprintln(streams.Out)
				tw = newTable(streams.Out, "AT", "ACTION", "FROM", "TO", "ACTOR", "TRACE", "MESSAGE")
				for _, a := range audit {
					tw.row(a.At.UTC().Format(time.RFC3339), a.Action, a.From, a.To, a.Actor, a.TraceID, oneLine(a.Message))
				}
				return tw.flush()
			})
		},
	}
	cmd.Flags().StringVar(&layer, "layer", "", "layer (required)")
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many versions and audit records (0: all)")
	o.addFlags(cmd)
	return cmd
}

// oneLine shortens a message to its first 72 characters on one line (a table escapes
// what is left).
func oneLine(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ").Replace(s)
	if r := []rune(s); len(r) > 72 {
		s = string(r[:72]) + "…"
	}
	return s
}

func newDiffCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var layer, cluster, from, to string
	cmd := &cobra.Command{
		Use:   "diff (--layer LAYER --from N --to M | --cluster NAME --from VERSION --to VERSION)",
		Short: "Diff two versions of a layer, or a cluster's rendered manifests at two configVersions",
		Long: `With --layer, diff compares two versions of a layer entry by entry. With --cluster, it
renders the cluster at two configVersions (g7.e3.c12, or "latest") and compares the
manifests object by object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (layer == "") == (cluster == "") {
				return withCode(ExitUsage, fmt.Errorf("give either --layer or --cluster"))
			}
			if from == "" || to == "" {
				return withCode(ExitUsage, fmt.Errorf("--from and --to are required"))
			}
			if cluster != "" {
				if err := parseClusterFlag(cluster); err != nil {
					return err
				}
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				var changes []ops.Change
				if layer != "" {
					ref, err := parseLayerFlag(layer)
					if err != nil {
						return err
					}
					var a, b int
					if _, err := fmt.Sscanf(from, "%d", &a); err != nil {
						return withCode(ExitUsage, fmt.Errorf("--from %q: a version number", from))
					}
					if _, err := fmt.Sscanf(to, "%d", &b); err != nil {
						return withCode(ExitUsage, fmt.Errorf("--to %q: a version number", to))
					}
					la, err := st.ReadVersion(ctx, ref, a)
					if err != nil {
						return storeError(err)
					}
					lb, err := st.ReadVersion(ctx, ref, b)
					if err != nil {
						return storeError(err)
					}
					changes = ops.Diff(la.Entries, lb.Entries)
				} else {
					before, err := renderFromStore(ctx, st, cluster, from, render.Options{Format: render.FormatYAML})
					if err != nil {
						return err
					}
					after, err := renderFromStore(ctx, st, cluster, to, render.Options{Format: render.FormatYAML})
					if err != nil {
						return err
					}
					if changes, err = ops.ManifestChanges(before.out.Bytes(), after.out.Bytes()); err != nil {
						return err
					}
					from, to = before.version, after.version
				}
				printChanges(streams.Out, changes)
				subject := layer
				if subject == "" {
					subject = "cluster " + cluster
				}
				fmt.Fprintf(streams.Out, "%s %s → %s: %s\n", subject, from, to, ops.Summary(changes))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&layer, "layer", "", "layer whose versions to compare")
	f.StringVar(&cluster, "cluster", "", "cluster whose rendered manifests to compare")
	f.StringVar(&from, "from", "", "older version (layer: N; cluster: configVersion or latest)")
	f.StringVar(&to, "to", "", "newer version")
	o.addFlags(cmd)
	return cmd
}

func newRollbackCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var c changeFlags
	var to int
	cmd := &cobra.Command{
		Use:   "rollback --layer LAYER --to N [--base-version N] [-m MESSAGE] [--dry-run]",
		Short: "Move a layer's head back to an earlier published version",
		Long: `Rollback validates every cluster the layer affects at version N, shows the diff, and moves
the layer's head to N (no new version is written; the move is audited). Applications pinned
by the dynamo-cmp ApplicationSet generator pick up the new configVersion at its next poll.
--base-version M refuses (exit 3, nothing changed) unless the head is at M when the head moves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := parseLayerFlag(c.layer)
			if err != nil {
				return err
			}
			switch {
			case !cmd.Flags().Changed("to"):
				return withCode(ExitUsage, fmt.Errorf("--to is required: the version to roll back to (see config history)"))
			case to <= 0:
				return withCode(ExitUsage, fmt.Errorf("--to %d: versions are numbered from 1 (see config history)", to))
			}
			expected, err := c.base.get()
			if err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				trace := newTraceID()
				res, err := ops.Rollback(ctx, st, ops.RollbackRequest{Ref: ref, To: to, Message: c.message, Actor: o.actor(ctx, st, c.actor), TraceID: trace, Base: expected, DryRun: c.dryRun, Progress: o.progress()})
				if f := deadlineFailure("roll back", ref, o.so.timeout, trace, err); f != nil {
					return f
				}
				if err != nil {
					return storeError(err)
				}
				reportChange(streams, "rollback", res, c.dryRun, trace)
				return nil
			})
		},
	}
	c.add(cmd)
	cmd.Flags().IntVar(&to, "to", 0, "version to roll back to (required)")
	o.addFlags(cmd)
	return cmd
}

func newValidateCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var cluster, version string
	cmd := &cobra.Command{
		Use:   "validate --cluster NAME [--version VERSION]",
		Short: "Validate a cluster's published configuration and list every problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := parseClusterFlag(cluster); err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				r, err := renderFromStore(ctx, st, cluster, version, render.Options{})
				if err != nil {
					return err
				}
				fmt.Fprintf(streams.Out, "cluster %s at %s is valid: %d objects\n", cluster, r.version, r.out.Len())
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster (required)")
	cmd.Flags().StringVar(&version, "version", config.LatestVersion, "configVersion (g7.e3.c12) or latest")
	_ = cmd.MarkFlagRequired("cluster")
	o.addFlags(cmd)
	return cmd
}

func newConfigRenderCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var cluster, version, output string
	var components []string
	cmd := &cobra.Command{
		Use:   "render --cluster NAME [--version VERSION] [-o yaml|json]",
		Short: "Render a cluster's published configuration, as generate would, without Argo CD",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if err := parseClusterFlag(cluster); err != nil {
				return err
			}
			return o.withStore(cmd.Context(), func(ctx context.Context, st *store.Store) error {
				r, err := renderFromStore(ctx, st, cluster, version, render.Options{Format: output, Components: components})
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(r.out.Bytes())
				return err
			})
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster (required)")
	cmd.Flags().StringVar(&version, "version", config.LatestVersion, "configVersion (g7.e3.c12) or latest")
	cmd.Flags().StringVarP(&output, "output", "o", render.FormatYAML, "yaml or json")
	cmd.Flags().StringSliceVar(&components, "components", nil, "render only these components")
	_ = cmd.MarkFlagRequired("cluster")
	o.addFlags(cmd)
	return cmd
}

type storeRender struct {
	out     *render.Manifests
	version string
	layers  []config.Layer // as read, lowest first
}

// renderFromStore reads, resolves and renders a cluster at a configVersion ("latest" or
// g7.e3.c12).
func renderFromStore(ctx context.Context, st *store.Store, cluster, version string, opts render.Options) (*storeRender, error) {
	req := store.ClusterRequest{Cluster: cluster}
	if version != "" && version != config.LatestVersion {
		v, err := config.ParseConfigVersion(version)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		req.Version = &v
	}
	read, err := st.ReadCluster(ctx, req)
	if err != nil {
		return nil, storeError(err)
	}
	resolved := read.Version.String()
	model, err := config.Resolve(read.Layers, cluster)
	if err != nil {
		return nil, withCode(ExitInvalid, fmt.Errorf("cluster %s at %s: %w", cluster, resolved, describeInvalid(err)))
	}
	out, err := render.Render(model, opts)
	if err != nil {
		return nil, withCode(ExitInvalid, fmt.Errorf("cluster %s at %s: %w", cluster, resolved, err))
	}
	return &storeRender{out: out, version: resolved, layers: read.Layers}, nil
}
