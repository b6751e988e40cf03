package store_test

import (
	"errors"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/rollout"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

const aliceArn = "arn:aws:sts::123456789012:assumed-role/platform-admin/alice"

// storeWithSTS is a store on a fresh DynamoDB Local table whose caller identity comes from
// a fake STS.
func storeWithSTS(t *testing.T) (*store.Store, *testkit.FakeSTS) {
	t.Helper()
	fake := testkit.NewFakeSTS(t, aliceArn)
	cfg := dynamolocal.NewTable(t, dynamolocal.Start(t))
	cfg.STSEndpoint = fake.URL
	s, err := store.New(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, fake
}

// Every write that names an actor also records the AWS principal that made it, whatever
// the free-text label says; STS is asked once.
func TestWritesRecordCallerArn(t *testing.T) {
	s, fake := storeWithSTS(t)
	ctx := testContext(t)
	ref := config.EnvLayer("dev")
	settings := func(owner string) config.Entry {
		return entry(t, config.KindSettings, map[string]any{"commonLabels": map[string]any{"owner": owner}})
	}
	if _, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 0, Actor: "bob (claimed)", Entries: []config.Entry{settings("a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 1, Actor: "bob (claimed)", Entries: []config.Entry{settings("b")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 2, To: 1, Actor: "bob (claimed)"}); err != nil {
		t.Fatal(err)
	}
	audit, err := s.Audit(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 3 {
		t.Fatalf("audit has %d records, want 3", len(audit))
	}
	for _, a := range audit {
		if a.CallerArn != aliceArn || a.Actor != "bob (claimed)" {
			t.Errorf("audit %s %d→%d: actor %q caller %q, want actor %q caller %q", a.Action, a.From, a.To, a.Actor, a.CallerArn, "bob (claimed)", aliceArn)
		}
	}
	versions, err := s.Versions(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		if v.CallerArn != aliceArn {
			t.Errorf("version %d: caller %q, want %q", v.Version, v.CallerArn, aliceArn)
		}
	}
	heads, err := s.Heads(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if head := heads[ref]; head.CallerArn != aliceArn {
		t.Errorf("head: caller %q, want %q", head.CallerArn, aliceArn)
	}

	p := parsePolicy(t, "name: clusters\nlayers: [cluster/*]\nnamespaces: [\"team-*\"]\n")
	if err := s.PutPolicy(ctx, p, "carol", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeletePolicy(ctx, "clusters", "carol"); err != nil {
		t.Fatal(err)
	}
	changes, err := s.PolicyHistory(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("policy history has %d changes, want 2", len(changes))
	}
	for _, c := range changes {
		if c.CallerArn != aliceArn {
			t.Errorf("policy change %s: caller %q, want %q", c.Action, c.CallerArn, aliceArn)
		}
	}

	st, err := rollout.ParseStrategy([]byte("name: default\nwaves:\n- {name: first, namePattern: qa-a}\n- {name: rest}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutStrategy(ctx, st, "dave"); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Strategies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].CallerArn != aliceArn {
		t.Errorf("strategies = %+v, want one stored by %q", stored, aliceArn)
	}
	if n := fake.Calls.Load(); n != 1 {
		t.Errorf("STS GetCallerIdentity called %d times, want once per process", n)
	}
}

// When STS cannot say who the caller is, a publish is refused with a retryable error and
// nothing becomes visible.
func TestPublishRefusedWithoutCallerIdentity(t *testing.T) {
	s, fake := storeWithSTS(t)
	fake.Fail.Store(true)
	ctx := testContext(t)
	ref := config.EnvLayer("dev")
	_, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 0, Actor: "bob", Entries: []config.Entry{
		entry(t, config.KindSettings, map[string]any{"commonLabels": map[string]any{"owner": "a"}})}})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("publish with STS down: got %v, want ErrUnavailable", err)
	}
	heads, err := s.Heads(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := heads[ref]; ok {
		t.Errorf("after the refused publish, the head is at version %d, want none", h.Version)
	}
}
