package ops_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func namespace(t *testing.T, name, team string) config.Entry {
	return testkit.Entry(t, config.KindNamespace, map[string]any{"namespace": name, "labels": map[string]any{"team": team}})
}

func ids(entries []config.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID()+"="+e.Body["labels"].(map[string]any)["team"].(string))
	}
	return out
}

// Draft edits made in the console become the next version: a draft replaces the entry of
// its kind and key or adds one, a deletion marker removes it (or does nothing when there is
// none), the result is in the entries' order, and the published version is left as it was.
func TestApplyDrafts(t *testing.T) {
	current := []config.Entry{namespace(t, "alpha", "a"), namespace(t, "beta", "b"), namespace(t, "gamma", "g")}
	before := ids(current)
	next := ops.ApplyDrafts(current, []store.Draft{
		{Entry: namespace(t, "beta", "b2")},
		{Entry: namespace(t, "aardvark", "new")},
		{Entry: namespace(t, "gamma", ""), Delete: true},
		{Entry: namespace(t, "never-was", ""), Delete: true},
	})
	want := []string{"namespace/aardvark=new", "namespace/alpha=a", "namespace/beta=b2"}
	if got := ids(next); !reflect.DeepEqual(got, want) {
		t.Errorf("next version %v, want %v", got, want)
	}
	if got := ids(current); !reflect.DeepEqual(got, before) {
		t.Errorf("the current version changed to %v", got)
	}
}

// An automatic rollback (serve's, or an aborted rollout's) moves a layer back only from the
// version it judged bad (RollbackRequest.Base): when someone published meanwhile, the newer publish stays and the
// rollback is a conflict.
func TestOnlyFromNeverUndoesANewerPublish(t *testing.T) {
	st, _ := dynamolocal.NewStore(t)
	ctx := testkit.Context(t)
	ref := config.GlobalLayer
	for i, team := range []string{"v1", "v2", "v3"} {
		res, err := ops.Publish(ctx, st, ops.PublishRequest{Ref: ref, Entries: []config.Entry{namespace(t, "base", team)}, Actor: "tester", Message: "publish", TraceID: "trace0000000" + team})
		if err != nil || res.Version != i+1 {
			t.Fatalf("publish %s: %+v, %v", team, res, err)
		}
	}
	// Version 2 was judged bad, but version 3 has been published since.
	judged := 2
	_, err := ops.Rollback(ctx, st, ops.RollbackRequest{Ref: ref, To: 1, Base: &judged, Actor: "auto", TraceID: "trace00000rb1"})
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("rollback from 2 with the head at 3: %v, want a *store.ConflictError", err)
	}
	heads, err := st.Heads(ctx, ref)
	if err != nil || heads[ref].Version != 3 {
		t.Fatalf("head %+v, %v; want version 3 untouched", heads[ref], err)
	}
	// From the head it judged, the rollback goes through.
	judged = 3
	res, err := ops.Rollback(ctx, st, ops.RollbackRequest{Ref: ref, To: 1, Base: &judged, Actor: "auto", TraceID: "trace00000rb2"})
	if err != nil || res.Version != 1 {
		t.Fatalf("rollback from 3: %+v, %v; want the head at 1", res, err)
	}
}
