package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/hostiletest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// An entry larger than DynamoDB's 400 KB item limit is refused with a clear, short message
// that quotes none of its content, and nothing becomes visible; one just under the limit is
// stored and read back unchanged. Both in bounded memory.
func TestItemOverDynamoDBLimit(t *testing.T) {
	s, _ := newStore(t)
	ref := config.ClusterLayer("c")
	publish(t, s, ref, 0, clusterRecord(t, "c", "dev"))

	// The body's own content must never reach a message: a run of "q" is easy to spot.
	big := namespace(t, "big", map[string]any{"annotations": map[string]any{"example.com/blob": strings.Repeat("q", 410<<10)}})
	var err error
	hostiletest.Bounded(t, 100*hostiletest.MB, func() {
		_, err = s.Publish(testContext(t), store.PublishInput{Ref: ref, Base: 1, Entries: []config.Entry{clusterRecord(t, "c", "dev"), big}})
	})
	checkItemTooLarge(t, "publish", err)
	heads, err := s.Heads(testContext(t), ref)
	if err != nil || heads[ref].Version != 1 {
		t.Fatalf("after the refused publish the head is %+v (%v), want version 1", heads[ref], err)
	}
	read, err := s.ReadCluster(testContext(t), store.ClusterRequest{Cluster: "c"})
	if err != nil || len(read.Layers) == 0 || read.Version.Cluster != 1 {
		t.Fatalf("after the refused publish generation reads %+v (%v)", read, err)
	}

	hostiletest.Bounded(t, 100*hostiletest.MB, func() { err = s.PutDrafts(testContext(t), ref, []store.Draft{{Entry: big}}) })
	checkItemTooLarge(t, "draft", err)
	if drafts, err := s.Drafts(testContext(t), ref); err != nil || len(drafts) != 0 {
		t.Errorf("after the refused draft: %d drafts, %v", len(drafts), err)
	}

	// Just under the limit: stored as a plain item and read back as it was.
	fits := namespace(t, "fits", map[string]any{"annotations": map[string]any{"example.com/blob": strings.Repeat("q", 390<<10)}})
	h := publish(t, s, ref, 1, clusterRecord(t, "c", "dev"), fits)
	var layer config.Layer
	hostiletest.Bounded(t, 100*hostiletest.MB, func() { layer, err = s.ReadVersion(testContext(t), ref, h.Version) })
	if err != nil {
		t.Fatal(err)
	}
	var got *config.Entry
	for i := range layer.Entries {
		if layer.Entries[i].ID() == fits.ID() {
			got = &layer.Entries[i]
		}
	}
	if got == nil || !reflect.DeepEqual(got.Body, fits.Body) {
		t.Errorf("the 390 KB entry did not read back unchanged")
	}
}

func checkItemTooLarge(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s of a 410 KB entry succeeded", what)
	}
	msg := err.Error()
	if !errors.Is(err, store.ErrTooLarge) || !strings.Contains(msg, "over DynamoDB's 400 KB item limit: split it into smaller entries") {
		t.Errorf("%s: the message does not say the item is too large: %s", what, msg)
	}
	if strings.Contains(msg, "qqqq") || len(msg) > 1024 || strings.ContainsAny(msg, "\n\r") {
		t.Errorf("%s: the message is not one short line free of item content: %.300q", what, msg)
	}
}

// nested returns depth maps nested in each other around a string.
func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = map[string]any{"a": v}
	}
	return v
}

// DynamoDB refuses items nested deeper than 32 levels with a ValidationException: the store
// must refuse such an entry before it claims a version (else every retry of the publish
// leaves an interrupted version behind), naming the entry and the path. The boundary is
// DynamoDB Local's own: what the store accepts, DynamoDB Local stores.
func TestEntriesOverDynamoDBLimits(t *testing.T) {
	s, _ := newStore(t)
	// The boundary, as DynamoDB Local enforces it: a top-level attribute holding 31 nested
	// maps is stored, 32 are not.
	if err := store.PutRawItem(testContext(t), s, map[string]any{"pk": "probe", "sk": "ok", "x": nested(31)}); err != nil {
		t.Fatalf("DynamoDB Local refused 31 levels: %v", err)
	}
	if err := store.PutRawItem(testContext(t), s, map[string]any{"pk": "probe", "sk": "deep", "x": nested(32)}); err == nil || !strings.Contains(err.Error(), "Nesting Levels have exceeded supported limits") {
		t.Fatalf("DynamoDB Local should refuse 32 levels, got %v", err)
	}

	ref := config.ClusterLayer("c")
	publish(t, s, ref, 0, clusterRecord(t, "c", "dev"))
	// The deepest a field may go is stored and read back unchanged.
	fits := namespace(t, "fits", map[string]any{"x": nested(31)})
	h := publish(t, s, ref, 1, clusterRecord(t, "c", "dev"), fits)
	layer, err := s.ReadVersion(testContext(t), ref, h.Version)
	if err != nil || !reflect.DeepEqual(layer.Entries[len(layer.Entries)-1].Body["x"], fits.Body["x"]) {
		t.Fatalf("the 31-level field did not read back: %v", err)
	}

	deep := entry(t, config.KindManifest, map[string]any{
		"apiVersion": "example.com/v1", "kind": "Deep", "metadata": map[string]any{"name": "deep"},
		"spec": nested(40),
	})
	huge := namespace(t, "huge", map[string]any{"n": 1e200})
	_, err = s.Publish(testContext(t), store.PublishInput{Ref: ref, Base: h.Version, Entries: []config.Entry{clusterRecord(t, "c", "dev"), fits, deep, huge}})
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("publish of a 40-level entry: %v, want ErrTooLarge", err)
	}
	for _, want := range []string{
		"publish cluster/c: ",
		"entry manifest/" + deep.Key + ": spec.a.a.(26 more).a.a.a…: nested deeper than DynamoDB's limit of 32 levels",
		"entry namespace/huge: n: a number of magnitude 1e+200, outside the range DynamoDB stores",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%s", want, err)
		}
	}
	if top, err := store.HighestVersion(s, testContext(t), ref); err != nil || top != h.Version {
		t.Errorf("the refused publish claimed a version: highest %d (%v), want %d", top, err, h.Version)
	}
	if err := s.PutDrafts(testContext(t), ref, []store.Draft{{Entry: deep}}); !errors.Is(err, store.ErrTooLarge) || !strings.Contains(err.Error(), "nested deeper than DynamoDB's limit") {
		t.Errorf("a 40-level draft: %v", err)
	}
}
