package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

func parsePolicy(t *testing.T, data string) policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicies: a policy is stored as a plain item (its fields as attributes), read back as
// stored, replaced, deleted, and every change is in the policy audit, newest first.
func TestPolicies(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	p := parsePolicy(t, "name: team-a\nlayers: [cluster/team-a-*]\nnamespaces: [team-a-*]\naddons: {projects: [team-a], destinations: [{name: \"${cluster.name}\"}]}\n")
	if err := s.PutPolicy(ctx, p, "alice", false); err != nil {
		t.Fatal(err)
	}
	got, err := s.Policies(ctx)
	if err != nil || len(got) != 1 || got[0].Name != "team-a" || got[0].Actor != "alice" || got[0].At.IsZero() ||
		got[0].Namespaces[0] != "team-a-*" || got[0].Addons.Destinations[0].Name != "${cluster.name}" {
		t.Fatalf("Policies = %+v, %v", got, err)
	}
	p.Namespaces = append(p.Namespaces, "shared")
	if err := s.PutPolicy(ctx, p, "bob", true); err != nil {
		t.Fatal(err)
	}
	if found, err := s.DeletePolicy(ctx, "team-a", "carol"); !found || err != nil {
		t.Fatalf("DeletePolicy: %v %v", found, err)
	}
	if found, err := s.DeletePolicy(ctx, "team-a", "carol"); found || err != nil {
		t.Fatalf("DeletePolicy of a deleted policy: %v %v", found, err)
	}
	if got, err := s.Policies(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after delete: %+v %v", got, err)
	}
	h, err := s.PolicyHistory(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range h {
		l := c.Name + " " + c.Action + " " + c.Actor
		if c.Policy != nil {
			l += " " + strings.Join(c.Policy.Namespaces, ",")
		}
		lines = append(lines, l)
	}
	if want := "team-a deleted carol|team-a replaced bob team-a-*,shared|team-a stored alice team-a-*"; strings.Join(lines, "|") != want {
		t.Errorf("history %q, want %q", strings.Join(lines, "|"), want)
	}
}

// TestPolicyItemReadStrictly: a policy item edited in the console is read as strictly as a
// policy file: an attribute that is no policy field, or a field that does not check, makes
// the item invalid (named by its keys), so a hand edit can neither widen nor be ignored.
func TestPolicyItemReadStrictly(t *testing.T) {
	s, _ := newStore(t)
	ctx := testContext(t)
	for _, tt := range []struct {
		name string
		item map[string]any
		want string
	}{
		{"unknown attribute", map[string]any{"pk": "policy", "sk": "p", "name": "p", "layers": []any{"*"}, "namespace": []any{"kube-system"}},
			`item pk="policy" sk="p": policy: unknown field "namespace"`},
		{"name and key differ", map[string]any{"pk": "policy", "sk": "p", "name": "q", "layers": []any{"*"}},
			`item pk="policy" sk="p": the policy is named "q"`},
		{"bad pattern", map[string]any{"pk": "policy", "sk": "p", "name": "p", "layers": []any{"cluster/Team"}},
			`item pk="policy" sk="p": policy p: layers:`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := store.PutRawItem(ctx, s, tt.item); err != nil {
				t.Fatal(err)
			}
			_, err := s.Policies(ctx)
			if !errors.Is(err, store.ErrInvalidItem) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Policies: %v, want an invalid item saying %s", err, tt.want)
			}
		})
	}
}

// TestReadClusterWithPolicies: generate's read asks for the policies in parallel with the
// layers: the pinned read stays one round trip (three version queries and the policy query
// side by side), and with every DynamoDB call made 150 ms slower it takes one round trip of
// latency, not two.
func TestReadClusterWithPolicies(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	ctx := testContext(t)
	direct, err := store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, direct, config.GlobalLayer, 0, namespace(t, "monitoring", nil))
	publish(t, direct, config.EnvLayer("dev"), 0, namespace(t, "dev-tools", nil))
	publish(t, direct, config.ClusterLayer("dev-k3s"), 0, hundredNamespaces(t, "dev-k3s", "dev")...)
	if err := direct.PutPolicy(ctx, parsePolicy(t, "name: clusters\nlayers: [cluster/*]\nnamespaces: [\"team-*\"]\n"), "alice", false); err != nil {
		t.Fatal(err)
	}

	p := faultproxy.Start(t, endpoint)
	slow := cfg
	slow.Endpoint = p.URL()
	calls := &store.CallCounter{}
	slow.Observer = calls
	s, err := store.New(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	pin := &config.ConfigVersion{Global: 1, Env: 1, Cluster: 1}
	req := store.ClusterRequest{Cluster: "dev-k3s", Environment: "dev", Version: pin}
	read := func(policies bool) (*store.ClusterLayers, time.Duration) {
		t.Helper()
		r := req
		r.Policies = policies
		start := time.Now()
		got, err := s.ReadCluster(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return got, time.Since(start)
	}
	read(true) // connections up

	calls.Reset()
	got, _ := read(true)
	t.Logf("pinned read with policies: %d round trip, %s", got.RoundTrips, calls)
	// The cluster layer's head (one BatchGetItem) is read alongside, for the project check.
	if got.RoundTrips != 1 || calls.Calls("Query") != 4 || calls.Calls("BatchGetItem") != 1 || calls.Total() != 5 {
		t.Errorf("pinned read with policies: %d round trips, %s; want 1 round trip of 4 queries and 1 BatchGetItem", got.RoundTrips, calls)
	}
	if len(got.Policies) != 1 || got.Policies[0].Name != "clusters" {
		t.Errorf("policies read: %+v", got.Policies)
	}

	// The fastest of three reads each way: this machine's scheduling noise is not the read's.
	const latency = 150 * time.Millisecond
	p.Inject(faultproxy.Always(faultproxy.Latency(latency)))
	without, with := time.Hour, time.Hour
	for range 3 {
		_, d := read(false)
		without = min(without, d)
		_, d = read(true)
		with = min(with, d)
	}
	t.Logf("pinned read, %s added to every call: %s without the policies, %s with them", latency, without.Round(time.Millisecond), with.Round(time.Millisecond))
}
