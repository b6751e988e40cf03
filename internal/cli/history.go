package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// historyFlags are config history's flags.
type historyFlags struct {
	layer  string
	limit  int
	output string
}

// historyJSON is config history -o json: the versions, newest first, then the audit trail.
// actor is the free-text label a writer chose (--actor); callerArn the AWS principal that
// made the write, as STS named it (absent when none was known, e.g. DynamoDB Local).
type historyJSON struct {
	Layer    string             `json:"layer"`
	Head     *int               `json:"head,omitempty"`
	Versions []historyVersion   `json:"versions"`
	Audit    []historyAuditJSON `json:"audit"`
}

type historyVersion struct {
	Version   int       `json:"version"`
	Published bool      `json:"published"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor,omitempty"`
	CallerArn string    `json:"callerArn,omitempty"`
	Entries   int       `json:"entries"`
	Message   string    `json:"message,omitempty"`
}

type historyAuditJSON struct {
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	From      int       `json:"from"`
	To        int       `json:"to"`
	Actor     string    `json:"actor,omitempty"`
	CallerArn string    `json:"callerArn,omitempty"`
	TraceID   string    `json:"traceId,omitempty"`
	Message   string    `json:"message,omitempty"`
}

func newHistoryCommand(streams IOStreams, env Env) *cobra.Command {
	o := &operator{streams: streams, env: env}
	var f historyFlags
	cmd := &cobra.Command{
		Use:   "history --layer LAYER",
		Short: "List a layer's versions and its audit trail (publishes and rollbacks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.runHistory(cmd.Context(), f)
		},
	}
	cmd.Flags().StringVar(&f.layer, "layer", "", "layer (required)")
	cmd.Flags().IntVar(&f.limit, "limit", 20, "show at most this many versions and audit records (0: all)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "table or json")
	o.addFlags(cmd)
	return cmd
}

// runHistory prints a layer's versions, then its audit trail.
func (o *operator) runHistory(ctx context.Context, f historyFlags) error {
	ref, err := parseLayerFlag(f.layer)
	if err != nil {
		return err
	}
	if err := checkTableOrJSON(f.output); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
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
		audit, err := st.Audit(ctx, ref, f.limit)
		if err != nil {
			return storeError(err)
		}
		if f.limit > 0 && len(versions) > f.limit {
			versions = versions[:f.limit]
		}
		if f.output == "json" {
			return o.printHistoryJSON(ref, heads, versions, audit)
		}
		tw := newTable(o.streams.Out, "VERSION", "HEAD", "PUBLISHED", "AT", "ACTOR", "CALLER", "ENTRIES", "MESSAGE")
		if h, ok := heads[ref]; ok && h.Version == 0 {
			// A rollout of the layer's first version was rolled back: no entries, as before it.
			tw.row(0, "*", "-", h.At.UTC().Format(time.RFC3339), h.Actor, callerCell(h.CallerArn), 0, "no entries (rolled back to before the first publish)")
		}
		for _, v := range versions {
			head := ""
			if heads[ref].Version == v.Version {
				head = "*"
			}
			published := "yes"
			if !v.Published {
				published = "no (interrupted)"
			}
			tw.row(v.Version, head, published, v.At.UTC().Format(time.RFC3339), v.Actor, callerCell(v.CallerArn), v.Entries, oneline.Shorten(v.Message, 72))
		}
		tw.flush()
		fmt.Fprintln(o.streams.Out)
		tw = newTable(o.streams.Out, "AT", "ACTION", "FROM", "TO", "ACTOR", "CALLER", "TRACE", "MESSAGE")
		for _, a := range audit {
			tw.row(a.At.UTC().Format(time.RFC3339), a.Action, a.From, a.To, a.Actor, callerCell(a.CallerArn), a.TraceID, oneline.Shorten(a.Message, 72))
		}
		return tw.flush()
	})
}

func (o *operator) printHistoryJSON(ref config.LayerRef, heads map[config.LayerRef]store.Head, versions []store.VersionInfo, audit []store.AuditRecord) error {
	out := historyJSON{Layer: ref.String(), Versions: []historyVersion{}, Audit: []historyAuditJSON{}}
	if h, ok := heads[ref]; ok {
		out.Head = &h.Version
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, historyVersion{Version: v.Version, Published: v.Published, At: v.At.UTC(),
			Actor: v.Actor, CallerArn: v.CallerArn, Entries: v.Entries, Message: v.Message})
	}
	for _, a := range audit {
		out.Audit = append(out.Audit, historyAuditJSON{At: a.At.UTC(), Action: a.Action, From: a.From, To: a.To,
			Actor: a.Actor, CallerArn: a.CallerArn, TraceID: a.TraceID, Message: a.Message})
	}
	enc := json.NewEncoder(o.streams.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// callerCell shows a caller ARN in a table ("-" when none was recorded).
func callerCell(arn string) string {
	if arn == "" {
		return "-"
	}
	return arn
}
