package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/hostile"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
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
	hostile.Bounded(t, 100*hostile.MB, func() {
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

	hostile.Bounded(t, 100*hostile.MB, func() { err = s.PutDrafts(testContext(t), ref, []store.Draft{{Entry: big}}) })
	checkItemTooLarge(t, "draft", err)
	if drafts, err := s.Drafts(testContext(t), ref); err != nil || len(drafts) != 0 {
		t.Errorf("after the refused draft: %d drafts, %v", len(drafts), err)
	}

	// Just under the limit: stored as a plain item and read back as it was.
	fits := namespace(t, "fits", map[string]any{"annotations": map[string]any{"example.com/blob": strings.Repeat("q", 390<<10)}})
	h := publish(t, s, ref, 1, clusterRecord(t, "c", "dev"), fits)
	var layer config.Layer
	hostile.Bounded(t, 100*hostile.MB, func() { layer, err = s.ReadVersion(testContext(t), ref, h.Version) })
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
