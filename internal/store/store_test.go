package store_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestCreateTableIsIdempotent(t *testing.T) {
	ctx := testContext(t)
	cfg := dynamolocal.NewTable(t, dynamolocal.Start(t))
	cfg.Table += "-own"
	s, err := store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrTableNotFound) {
		t.Fatalf("Ping before create: got %v, want ErrTableNotFound", err)
	} else if want := "create it with `dynamo-cmp table create --table " + cfg.Table + "`"; !strings.Contains(err.Error(), want) {
		t.Errorf("Ping before create: %q does not say %q", err, want)
	}
	for i, want := range []bool{true, false} {
		created, err := s.CreateTable(ctx)
		if err != nil {
			t.Fatalf("CreateTable #%d: %v", i+1, err)
		}
		if created != want {
			t.Errorf("CreateTable #%d: created = %v, want %v", i+1, created, want)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if s.Table() != cfg.Table {
		t.Errorf("Table() = %q, want %q", s.Table(), cfg.Table)
	}
}

func TestPublishReadRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.ClusterLayer("dev-k3s")
	entries := []config.Entry{
		clusterRecord(t, "dev-k3s", "dev"),
		entry(t, config.KindSettings, map[string]any{"commonLabels": map[string]any{"owner": "platform"}}),
		namespace(t, "dev-team", map[string]any{
			"annotations":   map[string]any{"purpose": "development"},
			"resourceQuota": map[string]any{"cpu": "4", "memory": "8Gi"},
		}),
		entry(t, config.KindRoleBinding, map[string]any{
			"name": "dev-edit", "namespace": "dev-team",
			"roleRef":  map[string]any{"kind": "ClusterRole", "name": "edit"},
			"subjects": []any{map[string]any{"kind": "Group", "name": "developers"}},
		}),
		entry(t, config.KindManifest, map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "numbers", "namespace": "dev-team"},
			"int":      int64(42), "negative": int64(-7), "large": int64(1) << 62,
			"float": 1.5, "tiny": 1e-7, "huge": 1e21,
			"bool": true, "null": nil, "emptyMap": map[string]any{}, "emptyList": []any{},
			"unicode": "héllo ☃ #hash",
			"nested":  []any{map[string]any{"a": []any{int64(1), "two", false, nil}}},
		}),
	}
	h := publish(t, s, ref, 0, entries...)
	if h.Version != 1 || h.Previous != 0 || h.Entries != len(entries) || h.Action != store.ActionPublish {
		t.Errorf("head = %+v, want version 1 over 0 with %d entries", h, len(entries))
	}
	if h.Cluster == nil || h.Cluster.Environment != "dev" || h.Cluster.Region != "eu-west-1" || h.Cluster.Vars["account"] != "123456789012" {
		t.Errorf("head cluster record = %+v", h.Cluster)
	}
	wantDigest := config.Digest([]config.Layer{{Ref: ref, Entries: entries}})
	if h.Digest != wantDigest {
		t.Errorf("digest = %s, want %s", h.Digest, wantDigest)
	}

	got, err := s.ReadVersion(ctx, ref, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != ref || got.Version != 1 {
		t.Errorf("read %s version %d", got.Ref, got.Version)
	}
	if want := sorted(entries); !reflect.DeepEqual(got.Entries, want) {
		t.Errorf("read back differs:\n got %#v\nwant %#v", got.Entries, want)
	}

	heads, err := s.Heads(ctx, ref, config.GlobalLayer)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 || !reflect.DeepEqual(heads[ref].Cluster, h.Cluster) || heads[ref].Version != 1 || !heads[ref].At.Equal(h.At) {
		t.Errorf("Heads = %+v, want only %s at version 1", heads, ref)
	}

	empty, err := s.ReadVersion(ctx, config.GlobalLayer, 0)
	if err != nil || empty.Version != 0 || len(empty.Entries) != 0 {
		t.Errorf("version 0: %+v, %v", empty, err)
	}
}

func TestPublishRefusesBadInput(t *testing.T) {
	s, calls := newStore(t)
	ctx := testContext(t)
	tests := []struct {
		name    string
		in      store.PublishInput
		wantErr string
	}{
		{"field named pk", store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{namespace(t, "a", map[string]any{"pk": "x"})}}, `a field named "pk" is not allowed`},
		{"field named sk", store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{namespace(t, "a", map[string]any{"sk": "x"})}}, `a field named "sk" is not allowed`},
		{"duplicate", store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{namespace(t, "a", nil), namespace(t, "a", nil)}}, "appears twice"},
		{"key mismatch", store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{{Kind: config.KindNamespace, Key: "b", Body: map[string]any{"namespace": "a"}}}}, `its fields name it "a"`},
		{"bad layer name", store.PublishInput{Ref: config.ClusterLayer("Bad_Name")}, "not a valid name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Publish(ctx, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
	if n := calls.Total(); n != 0 {
		t.Errorf("refused input made %d DynamoDB calls (%s)", n, calls)
	}
}

// The seed format, as tables already hold it, written by hand and read back as an entry.
func TestSeedItemReadsAsEntry(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	seed := map[string]any{
		"namespace":     "dev-team",
		"labels":        map[string]any{"environment": "dev", "team": "backend"},
		"annotations":   map[string]any{"purpose": "development"},
		"resourceQuota": map[string]any{"cpu": "4", "memory": "8Gi"},
	}
	want := entry(t, config.KindNamespace, seed)
	raw := func(sk string, fields map[string]any) {
		t.Helper()
		item := map[string]any{"pk": "env#dev", "sk": sk}
		for k, v := range fields {
			item[k] = v
		}
		if err := store.PutRawItem(ctx, s, item); err != nil {
			t.Fatal(err)
		}
	}
	raw("v#0000000001", map[string]any{"layer": "env/dev", "version": 1, "published": true, "entries": 1, "at": "2026-01-02T03:04:05Z"})
	raw("v#0000000001#namespace#dev-team", seed)
	raw("draft#namespace#dev-team", seed)

	l, err := s.ReadVersion(ctx, config.EnvLayer("dev"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 1 || !reflect.DeepEqual(l.Entries[0], want) {
		t.Errorf("version entries = %#v, want %#v", l.Entries, want)
	}
	hard := l.Entries[0].Body["resourceQuota"].(map[string]any)["hard"]
	if !reflect.DeepEqual(hard, map[string]any{"cpu": "4", "memory": "8Gi"}) {
		t.Errorf("resourceQuota.hard = %v", hard)
	}
	drafts, err := s.Drafts(ctx, config.EnvLayer("dev"))
	if err != nil {
		t.Fatal(err)
	}
	if len(drafts) != 1 || drafts[0].Delete || !reflect.DeepEqual(drafts[0].Entry, want) {
		t.Errorf("drafts = %#v", drafts)
	}
}

// Items broken by hand are reported by their keys, never by their bodies.
func TestMalformedItems(t *testing.T) {
	const secret = "s3cr3t-body-value"
	tests := []struct {
		name    string
		meta    map[string]any
		item    map[string]any
		wantErr error
		wantMsg string
	}{
		{
			name:    "key mismatch",
			item:    map[string]any{"sk": "v#0000000001#namespace#alpha", "namespace": "beta", "labels": map[string]any{"x": secret}},
			wantErr: store.ErrInvalidItem,
			wantMsg: `its sort key names it "alpha"`,
		},
		{
			name:    "unknown kind",
			item:    map[string]any{"sk": "v#0000000001#gadget#alpha", "name": secret},
			wantErr: store.ErrInvalidItem,
			wantMsg: `unknown entry kind "gadget"`,
		},
		{
			name:    "binary attribute",
			item:    map[string]any{"sk": "v#0000000001#namespace#alpha", "namespace": "alpha", "blob": []byte(secret)},
			wantErr: store.ErrInvalidItem,
			wantMsg: "binary values are not supported",
		},
		{
			name:    "wrong type",
			item:    map[string]any{"sk": "v#0000000001#namespace#alpha", "namespace": 12, "labels": map[string]any{"x": secret}},
			wantErr: store.ErrInvalidItem,
			wantMsg: "must be a string",
		},
		{
			name:    "entry count",
			meta:    map[string]any{"entries": 2},
			item:    map[string]any{"sk": "v#0000000001#namespace#alpha", "namespace": "alpha", "labels": map[string]any{"x": secret}},
			wantErr: store.ErrInvalidItem,
			wantMsg: "should have 2 entries, the table holds 1",
		},
		{
			name:    "unpublished",
			meta:    map[string]any{"published": false},
			item:    map[string]any{"sk": "v#0000000001#namespace#alpha", "namespace": "alpha"},
			wantErr: store.ErrNotFound,
			wantMsg: "version 1 of layer global was never published",
		},
	}
	s, _ := newStore(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			name := "c" + string(rune('a'+i))
			pk := "cluster#" + name
			meta := map[string]any{"pk": pk, "sk": "v#0000000001", "version": 1, "published": true, "entries": 1, "digest": "x", "at": "2026-01-02T03:04:05Z"}
			for k, v := range tt.meta {
				meta[k] = v
			}
			item := map[string]any{"pk": pk}
			for k, v := range tt.item {
				item[k] = v
			}
			for _, it := range []map[string]any{meta, item} {
				if err := store.PutRawItem(ctx, s, it); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.ReadVersion(ctx, config.ClusterLayer(name), 1)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			msg := strings.Replace(tt.wantMsg, "layer global", "layer cluster/"+name, 1)
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("%q does not say %q", err, msg)
			}
			if tt.wantErr == store.ErrInvalidItem && !strings.Contains(err.Error(), `pk="`+pk+`"`) {
				t.Errorf("%q does not name the item's pk", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%q leaks the item body", err)
			}
		})
	}
}

func TestPinnedVersionsStayReadable(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.GlobalLayer
	var published [][]config.Entry
	base := 0
	for v := 1; v <= 4; v++ {
		var entries []config.Entry
		for i := 0; i < v; i++ {
			entries = append(entries, namespace(t, "ns-"+string(rune('a'+i)), map[string]any{"annotations": map[string]any{"version": string(rune('0' + v))}}))
		}
		h := publish(t, s, ref, base, entries...)
		base = h.Version
		published = append(published, sorted(entries))
	}
	pins := []store.Pin{{Ref: ref, Version: 2}, {Ref: ref, Version: 4}, {Ref: ref, Version: 1}, {Ref: ref, Version: 3}}
	layers, err := s.ReadVersions(ctx, pins)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pins {
		if layers[i].Version != p.Version || !reflect.DeepEqual(layers[i].Entries, published[p.Version-1]) {
			t.Errorf("pin %d: read version %d with %d entries, want version %d exactly as published", i, layers[i].Version, len(layers[i].Entries), p.Version)
		}
	}
	if _, err := s.ReadVersion(ctx, ref, 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("version 9: got %v, want ErrNotFound", err)
	}
}

func TestHistoryAndAudit(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.EnvLayer("prod")
	for v := 1; v <= 3; v++ {
		_, err := s.Publish(ctx, store.PublishInput{
			Ref: ref, Base: v - 1, Entries: []config.Entry{namespace(t, "n", map[string]any{"annotations": map[string]any{"v": string(rune('0' + v))}})},
			Actor: "alice", Message: "change " + string(rune('0'+v)), TraceID: "trace-" + string(rune('0'+v)),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 3, To: 1, Actor: "bob", Message: "undo"}); err != nil {
		t.Fatal(err)
	}

	versions, err := s.Versions(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, v := range versions {
		got = append(got, v.Version)
		if !v.Published || v.Actor != "alice" || v.Entries != 1 || v.Based != v.Version-1 || v.At.IsZero() || v.Digest == "" {
			t.Errorf("version info %+v", v)
		}
	}
	if !reflect.DeepEqual(got, []int{3, 2, 1}) {
		t.Errorf("versions = %v, want newest first [3 2 1]", got)
	}

	audit, err := s.Audit(ctx, ref, 0)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Action   string
		From, To int
		Actor    string
	}
	var recs []rec
	for _, a := range audit {
		recs = append(recs, rec{a.Action, a.From, a.To, a.Actor})
	}
	want := []rec{{"rollback", 3, 1, "bob"}, {"publish", 2, 3, "alice"}, {"publish", 1, 2, "alice"}, {"publish", 0, 1, "alice"}}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("audit = %+v, want %+v", recs, want)
	}
	if audit[1].TraceID != "trace-3" || audit[1].Message != "change 3" {
		t.Errorf("audit record %+v lost its trace id or message", audit[1])
	}
	latest, err := s.Audit(ctx, ref, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 2 || latest[0].Action != "rollback" {
		t.Errorf("audit limit 2 = %+v", latest)
	}

	state, err := s.RegistryState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg := state.Heads
	if len(reg) != 1 || reg[0].Ref != ref || reg[0].Version != 1 || reg[0].Action != store.ActionRollback {
		t.Errorf("registry = %+v", reg)
	}
}

func TestRollback(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.ClusterLayer("edge-1")
	v1 := []config.Entry{clusterRecord(t, "edge-1", "dev"), namespace(t, "one", nil)}
	v2 := []config.Entry{entry(t, config.KindCluster, map[string]any{"name": "edge-1", "environment": "prod", "region": "us-east-1"}), namespace(t, "two", nil)}
	publish(t, s, ref, 0, v1...)
	publish(t, s, ref, 1, v2...)

	h, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 2, To: 1, Actor: "ops", Message: "bad change"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.Previous != 2 || h.Action != store.ActionRollback || h.Cluster == nil || h.Cluster.Environment != "dev" {
		t.Errorf("rollback head = %+v (cluster %+v)", h, h.Cluster)
	}
	got, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "edge-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version.Cluster != 1 || got.Environment != "dev" || !reflect.DeepEqual(got.Layers[2].Entries, sorted(v1)) {
		t.Errorf("after rollback read %s in %s", got.Version, got.Environment)
	}

	// The head moved under the caller's feet.
	_, err = s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 2, To: 1})
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) || conflict.Expected != 2 || conflict.Actual != 1 || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale rollback: got %v, want a conflict (expected 2, actual 1)", err)
	}
	for _, to := range []int{7} {
		if _, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 1, To: to}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rollback to %d: got %v, want ErrNotFound", to, err)
		}
	}
	// Roll forward again, then publish over it.
	if _, err := s.Rollback(ctx, store.RollbackInput{Ref: ref, From: 1, To: 2}); err != nil {
		t.Fatal(err)
	}
	h3 := publish(t, s, ref, 2, v1...)
	if h3.Version != 3 {
		t.Errorf("publish after rollbacks got version %d, want 3", h3.Version)
	}
}

func TestDrafts(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.EnvLayer("dev")
	add := namespace(t, "new-team", map[string]any{"resourceQuota": map[string]any{"cpu": "2"}})
	remove := store.Draft{Entry: config.Entry{Kind: config.KindNamespace, Key: "old-team"}, Delete: true}
	policy := entry(t, config.KindNetworkPolicy, map[string]any{"name": "allow-dns", "namespace": "new-team", "policyTypes": []any{"Egress"}})
	if err := s.PutDrafts(ctx, ref, []store.Draft{{Entry: policy}, {Entry: add}, remove}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Drafts(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Draft{{Entry: add}, {Entry: config.Entry{Kind: config.KindNamespace, Key: "old-team", Body: map[string]any{}}, Delete: true}, {Entry: policy}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("drafts:\n got %#v\nwant %#v", got, want)
	}
	if err := s.DeleteDrafts(ctx, ref, []store.Draft{{Entry: add}, remove}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Drafts(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Entry.ID() != policy.ID() {
		t.Errorf("after delete: %#v", got)
	}
	if err := s.PutDrafts(ctx, ref, []store.Draft{{Entry: namespace(t, "x", map[string]any{"$draft": "delete"})}}); err == nil {
		t.Errorf("a draft body with a $draft field was accepted")
	}
}

// A crash between writing the entries and moving the head leaves readers on the old
// version; the next publish skips the orphaned number.
func TestInterruptedPublish(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	ref := config.ClusterLayer("c1")
	v1 := []config.Entry{clusterRecord(t, "c1", "dev"), namespace(t, "a", nil)}
	publish(t, s, ref, 0, v1...)

	restore := store.InterruptPublishes(s)
	_, err := s.Publish(ctx, store.PublishInput{Ref: ref, Base: 1, Entries: []config.Entry{clusterRecord(t, "c1", "dev"), namespace(t, "b", nil)}})
	restore()
	if !errors.Is(err, store.ErrInterrupted) {
		t.Fatalf("interrupted publish: %v", err)
	}
	if top, err := store.HighestVersion(s, ctx, ref); err != nil || top != 2 {
		t.Fatalf("highest claimed version = %d, %v; want the orphan 2", top, err)
	}

	got, err := s.ReadCluster(ctx, store.ClusterRequest{Cluster: "c1", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version.Cluster != 1 || !reflect.DeepEqual(got.Layers[2].Entries, sorted(v1)) {
		t.Errorf("readers see version %d, want 1", got.Version.Cluster)
	}
	if _, err := s.ReadVersion(ctx, ref, 2); !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "never published") {
		t.Errorf("reading the orphan: got %v, want ErrNotFound (never published)", err)
	}

	h := publish(t, s, ref, 1, clusterRecord(t, "c1", "dev"), namespace(t, "c", nil))
	if h.Version != 3 || h.Previous != 1 {
		t.Errorf("publish after the crash: version %d over %d, want 3 over 1", h.Version, h.Previous)
	}
	versions, err := s.Versions(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, v := range versions {
		states = append(states, map[bool]string{true: "published", false: "orphan"}[v.Published])
	}
	if want := []string{"published", "orphan", "published"}; !reflect.DeepEqual(states, want) {
		t.Errorf("versions 3..1 = %v, want %v", states, want)
	}
}

func TestCallerIdentityRefusesAWSWithLocalEndpoint(t *testing.T) {
	s, calls := newStore(t)
	_, err := s.CallerIdentity(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "no STS endpoint") {
		t.Fatalf("got %v, want an immediate error about the missing STS endpoint", err)
	}
	if calls.Total() != 0 {
		t.Errorf("made %d calls", calls.Total())
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	ctx := testContext(t)
	s, err := store.New(ctx, store.Config{
		Table: "cfg", Region: "eu-west-1", Endpoint: "http://127.0.0.1:1",
		StaticCredentials: &store.StaticCredentials{AccessKeyID: "AKIDSECRETISH", SecretAccessKey: "very-secret"},
		MaxAttempts:       2, MaxBackoff: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Ping(ctx)
	want := "dynamodb DescribeTable on table cfg: cannot reach DynamoDB at http://127.0.0.1:1: connection refused"
	if !errors.Is(err, store.ErrUnavailable) || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	if _, err := s.Heads(short, config.GlobalLayer); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("expired context: got %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestNewWithoutRegion(t *testing.T) {
	if os.Getenv("AWS_REGION") != "" || os.Getenv("AWS_DEFAULT_REGION") != "" || os.Getenv("AWS_PROFILE") != "" {
		t.Skip("the environment configures a region")
	}
	_, err := store.New(testContext(t), store.Config{StaticCredentials: &store.StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"}})
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") || !strings.Contains(err.Error(), "--region") {
		t.Fatalf("got %v, want an error naming AWS_REGION and --region", err)
	}
}

func TestChangeSeqMovesWithEveryHeadMove(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	seq := func() int64 {
		t.Helper()
		n, err := st.ChangeSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := seq(); got != 0 {
		t.Fatalf("change counter of a new table: %d, want 0", got)
	}
	ref := config.EnvLayer("dev")
	ns := func(name string) []config.Entry {
		e, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": name})
		if err != nil {
			t.Fatal(err)
		}
		return []config.Entry{e}
	}
	if _, err := st.Publish(ctx, store.PublishInput{Ref: ref, Entries: ns("a"), Base: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(ctx, store.PublishInput{Ref: ref, Entries: ns("b"), Base: 1}); err != nil {
		t.Fatal(err)
	}
	if got := seq(); got != 2 {
		t.Fatalf("after two publishes: %d, want 2", got)
	}
	if _, err := st.Rollback(ctx, store.RollbackInput{Ref: ref, From: 2, To: 1}); err != nil {
		t.Fatal(err)
	}
	if got := seq(); got != 3 {
		t.Fatalf("after a rollback: %d, want 3", got)
	}
	state, err := st.RegistryState(ctx)
	heads := state.Heads
	if err != nil || len(heads) != 1 {
		t.Fatalf("the counter must not show up as a layer in the registry: %v %v", heads, err)
	}
}

func TestEditedPublishedVersionIsRefused(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	ref := config.ClusterLayer("c1")
	e := entry(t, config.KindNamespace, map[string]any{"namespace": "a", "labels": map[string]any{"team": "x"}})
	if _, err := st.Publish(ctx, store.PublishInput{Ref: ref, Entries: []config.Entry{e}}); err != nil {
		t.Fatal(err)
	}
	// A console edit of the published entry item: same keys, another value.
	if err := store.PutRawItem(ctx, st, map[string]any{"pk": "cluster#c1", "sk": "v#0000000001#namespace#a", "namespace": "a", "labels": map[string]any{"team": "y"}}); err != nil {
		t.Fatal(err)
	}
	_, err := st.ReadVersion(ctx, ref, 1)
	if !errors.Is(err, store.ErrInvalidItem) || !strings.Contains(err.Error(), "version 1 of layer cluster/c1 was changed after it was published") {
		t.Fatalf("want the edit detected, got %v", err)
	}
	if strings.Contains(err.Error(), `"y"`) {
		t.Errorf("the error must not show item contents: %v", err)
	}
}
