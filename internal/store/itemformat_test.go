package store_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// TestItemFormatPinned pins the exact items a publish writes — the entry item (every kind of
// value an entry body holds: strings, booleans, null, integers, large integers, fractions in
// both of Go's number forms, maps, lists, empty ones), the cluster layer's record, the version
// metadata, the head, its registry mirror and the audit record — as DynamoDB stores them.
// Tables already hold these items and readers of older releases read them: any change of
// their format, types or number spelling is a change of the table's format and shows here.
// Times and random ids are masked.
func TestItemFormatPinned(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	body := map[string]any{
		"namespace": "pinned",
		"labels":    map[string]any{"team": "a"},
		"annotations": map[string]any{
			"text": "x", "on": true, "none": nil, "int": int64(-7), "big": int64(1) << 62,
			"half": 0.5, "wide": 1234567.5, "tiny": 0.00001, "list": []any{"a", int64(1), []any{}}, "empty": map[string]any{},
		},
	}
	e := entry(t, config.KindNamespace, body)
	if _, err := s.Publish(ctx, store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{e}, Actor: "tester", Message: "pin", TraceID: "tracepinned1"}); err != nil {
		t.Fatal(err)
	}
	cluster := config.ClusterLayer("pin-a")
	if _, err := s.Publish(ctx, store.PublishInput{Ref: cluster, Entries: []config.Entry{clusterRecord(t, "pin-a", "dev")}, Actor: "tester", Message: "pin", TraceID: "tracepinned2"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pk := range []string{"global", "cluster#pin-a", "registry"} {
		items, err := store.RawItems(ctx, s, pk)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, showItem(it))
		}
	}
	slices.Sort(got)
	want := []string{
		`{action:S"publish" actor:S"tester" at:S"<masked>" cluster:M{environment:S"dev" labels:M{tier:S"gold"} name:S"pin-a" projects:L[S"platform"] region:S"eu-west-1" vars:M{account:S"123456789012" domain:S"pin-a.example.com"}} digest:S"sha256:717eccc236ee9144" entries:N"1" layer:S"cluster/pin-a" message:S"pin" pk:S"cluster#pin-a" previous:N"0" sk:S"head" traceId:S"tracepinned2" version:N"1"}`,
		`{action:S"publish" actor:S"tester" at:S"<masked>" cluster:M{environment:S"dev" labels:M{tier:S"gold"} name:S"pin-a" projects:L[S"platform"] region:S"eu-west-1" vars:M{account:S"123456789012" domain:S"pin-a.example.com"}} digest:S"sha256:717eccc236ee9144" entries:N"1" layer:S"cluster/pin-a" message:S"pin" pk:S"registry" previous:N"0" sk:S"layer#cluster#pin-a" traceId:S"tracepinned2" version:N"1"}`,
		`{action:S"publish" actor:S"tester" at:S"<masked>" digest:S"sha256:e0053f1fc008d340" entries:N"1" layer:S"global" message:S"pin" pk:S"global" previous:N"0" sk:S"head" traceId:S"tracepinned1" version:N"1"}`,
		`{action:S"publish" actor:S"tester" at:S"<masked>" digest:S"sha256:e0053f1fc008d340" entries:N"1" layer:S"global" message:S"pin" pk:S"registry" previous:N"0" sk:S"layer#global" traceId:S"tracepinned1" version:N"1"}`,
		`{action:S"publish" actor:S"tester" at:S"<masked>" from:N"0" layer:S"cluster/pin-a" message:S"pin" pk:S"cluster#pin-a" sk:S"audit#<time>#tracepinned2" to:N"1" traceId:S"tracepinned2"}`,
		`{action:S"publish" actor:S"tester" at:S"<masked>" from:N"0" layer:S"global" message:S"pin" pk:S"global" sk:S"audit#<time>#tracepinned1" to:N"1" traceId:S"tracepinned1"}`,
		`{actor:S"tester" at:S"<masked>" based:N"0" cluster:M{environment:S"dev" labels:M{tier:S"gold"} name:S"pin-a" projects:L[S"platform"] region:S"eu-west-1" vars:M{account:S"123456789012" domain:S"pin-a.example.com"}} digest:S"sha256:717eccc236ee9144" entries:N"1" layer:S"cluster/pin-a" message:S"pin" pk:S"cluster#pin-a" published:BOOL:true sk:S"v#0000000001" traceId:S"tracepinned2" version:N"1"}`,
		`{actor:S"tester" at:S"<masked>" based:N"0" digest:S"sha256:e0053f1fc008d340" entries:N"1" layer:S"global" message:S"pin" pk:S"global" published:BOOL:true sk:S"v#0000000001" traceId:S"tracepinned1" version:N"1"}`,
		`{annotations:M{big:N"4611686018427387904" empty:M{} half:N"0.5" int:N"-7" list:L[S"a" N"1" L[]] none:NULL:true on:BOOL:true text:S"x" tiny:N"1e-05" wide:N"1.2345675e+06"} labels:M{team:S"a"} namespace:S"pinned" pk:S"global" sk:S"v#0000000001#namespace#pinned"}`,
		`{environment:S"dev" labels:M{tier:S"gold"} name:S"pin-a" pk:S"cluster#pin-a" projects:L[S"platform"] region:S"eu-west-1" sk:S"v#0000000001#cluster#pin-a" vars:M{account:S"123456789012" domain:S"pin-a.example.com"}}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("the items written changed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var masked = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT[0-9:.]+Z|[0-9a-f]{64}|sha256:[0-9a-f]{64})$`)

// showItem writes an item as one line, attributes sorted, each value with its type.
func showItem(item map[string]types.AttributeValue) string {
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + showAV(item[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func showAV(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		s := v.Value
		if masked.MatchString(s) {
			s = "<masked>"
		}
		if strings.HasPrefix(s, "audit#") {
			s = "audit#<time>#" + s[strings.LastIndexByte(s, '#')+1:]
		}
		return fmt.Sprintf("S%q", s)
	case *types.AttributeValueMemberN:
		return fmt.Sprintf("N%q", v.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL:%v", v.Value)
	case *types.AttributeValueMemberNULL:
		return fmt.Sprintf("NULL:%v", v.Value)
	case *types.AttributeValueMemberM:
		return "M" + showItem(v.Value)
	case *types.AttributeValueMemberL:
		parts := make([]string, len(v.Value))
		for i, e := range v.Value {
			parts[i] = showAV(e)
		}
		return "L[" + strings.Join(parts, " ") + "]"
	default:
		return fmt.Sprintf("%T", av)
	}
}

// A time attribute edited by hand into something that is not a time is an invalid item
// naming the item's key and the attribute, not a silent zero time ("published 0001-01-01").
func TestHandEditedTimeIsAnInvalidItem(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	if _, err := s.Publish(ctx, store.PublishInput{Ref: config.GlobalLayer, Entries: []config.Entry{namespace(t, "a", nil)}, Actor: "tester", TraceID: "tracetime001"}); err != nil {
		t.Fatal(err)
	}
	heads, err := s.Heads(ctx, config.GlobalLayer)
	if err != nil {
		t.Fatal(err)
	}
	h := heads[config.GlobalLayer]
	if err := store.PutRawItem(ctx, s, map[string]any{"pk": "global", "sk": "head", "layer": "global", "version": h.Version,
		"at": "yesterday", "digest": h.Digest, "entries": h.Entries, "action": h.Action}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Heads(ctx, config.GlobalLayer)
	if !errors.Is(err, store.ErrInvalidItem) || !strings.Contains(err.Error(), `pk="global" sk="head"`) || !strings.Contains(err.Error(), "attribute at") {
		t.Fatalf("Heads: %v; want an invalid item naming pk, sk and the attribute at", err)
	}
	if strings.Contains(err.Error(), "yesterday") {
		t.Errorf("the error quotes the item's value: %v", err)
	}
}
