package store_test

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

// newStore returns a store on a fresh table of the package's DynamoDB Local, and the call
// counter observing it.
func newStore(t testing.TB) (*store.Store, *store.CallCounter) {
	t.Helper()
	return dynamolocal.NewStore(t)
}

// testContext ends after two minutes or with the test; entry builds an entry from a raw body.
var (
	testContext = testkit.Context
	entry       = testkit.Entry
)

func namespace(t testing.TB, name string, extra map[string]any) config.Entry {
	body := map[string]any{"namespace": name, "labels": map[string]any{"team": "t-" + name}}
	for k, v := range extra {
		body[k] = v
	}
	return entry(t, config.KindNamespace, body)
}

func clusterRecord(t testing.TB, name, env string) config.Entry {
	return entry(t, config.KindCluster, map[string]any{
		"name": name, "environment": env, "region": "eu-west-1",
		"labels":   map[string]any{"tier": "gold"},
		"vars":     map[string]any{"account": "123456789012", "domain": name + ".example.com"},
		"projects": []any{"platform"},
	})
}

func publish(t testing.TB, s *store.Store, ref config.LayerRef, base int, entries ...config.Entry) store.Head {
	t.Helper()
	h, err := s.Publish(testContext(t), store.PublishInput{Ref: ref, Entries: entries, Base: base, Actor: "tester", Message: "test publish"})
	if err != nil {
		t.Fatalf("publish %s over %d: %v", ref, base, err)
	}
	return h
}

func sorted(entries []config.Entry) []config.Entry {
	out := append([]config.Entry(nil), entries...)
	config.SortEntries(out)
	return out
}
