package ops

import (
	"context"
	"errors"
	"fmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DeletesError refuses a version that deletes entries no lower layer has; it wraps the
// *config.ValidationError that names each one.
type DeletesError struct {
	Ref config.LayerRef
	Err *config.ValidationError
}

func (e *DeletesError) Error() string {
	lines := make([]string, len(e.Err.Problems))
	for i, p := range e.Err.Problems {
		lines[i] = p.Error()
	}
	return fmt.Sprintf("refused: %s deletes what no lower layer has; nothing was changed\n  %s", e.Ref, strings.Join(lines, "\n  "))
}

func (e *DeletesError) Unwrap() error { return e.Err }

// checkDeletes refuses entries of a new version of ref that "$patch: delete" an entry no lower
// layer holds at its head (merge.UnmatchedDeletes): the lower layers of an environment are
// global, those of a cluster global and its environment (from the record being published). It
// reads them only when the version deletes an entry.
func checkDeletes(ctx context.Context, st Store, inv *registry.Inventory, ref config.LayerRef, entries []config.Entry) error {
	if !merge.HasEntryDeletes(entries) {
		return nil
	}
	var refs []config.LayerRef
	switch ref.Scope {
	case config.ScopeEnv:
		refs = []config.LayerRef{config.GlobalLayer}
	case config.ScopeCluster:
		refs = []config.LayerRef{config.GlobalLayer}
		// An invalid environment is validation's to report; without it the deletions are
		// checked against global alone.
		if rec := config.RecordOf(entries); rec != nil {
			if env, err := config.ParseLayerRef(config.EnvLayer(rec.Environment).String()); err == nil {
				refs = append(refs, env)
			}
		}
	}
	lower := make([]config.Layer, 0, len(refs))
	for _, r := range refs {
		l, err := st.ReadVersion(ctx, r, inv.Heads[r].Version)
		if err != nil {
			return err
		}
		lower = append(lower, l)
	}
	var invalid *config.ValidationError
	if err := merge.UnmatchedDeletes(config.Layer{Ref: ref, Entries: entries}, lower); errors.As(err, &invalid) {
		return &DeletesError{Ref: ref, Err: invalid}
	} else if err != nil {
		return err
	}
	return nil
}
