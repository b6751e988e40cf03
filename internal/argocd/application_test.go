package argocd_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd"
	"github.com/dynamo-cmp/dynamo-cmp/internal/argocd/argocdtest"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

func TestApplicationMatching(t *testing.T) {
	for _, tc := range []struct {
		app     argocdtest.App
		cluster string
		latest  bool
	}{
		{argocdtest.App{Cluster: "dev-a"}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Pinned: "latest"}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Pinned: "g1.e1.c1"}, "dev-a", false},
		{argocdtest.App{Cluster: "dev-a", ViaEnv: true}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", ViaEnv: true, Pinned: "g1.e1.c1"}, "dev-a", false},
		{argocdtest.App{Cluster: "dev-a", MultiSource: true}, "dev-a", true},
		{argocdtest.App{Cluster: "dev-a", Plugin: "dynamo-cmp-v2"}, "", false},
	} {
		app := tc.app.Application(t)
		if c, l := app.Cluster(argocdtest.PluginName), app.FollowsLatest(argocdtest.PluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%+v: cluster %q latest %v, want %q %v", tc.app, c, l, tc.cluster, tc.latest)
		}
	}
}

// TestApplicationReadsAsGenerate: an Application's plugin source as the Argo CD API answers
// it reads as generate will read it (plugin.NewSource): of an env entry given twice the last,
// and a parameter that is not a string still counts as given.
func TestApplicationReadsAsGenerate(t *testing.T) {
	for _, tc := range []struct {
		plugin  string
		cluster string
		latest  bool
	}{
		{`{"name":"dynamo-cmp-v1","env":[{"name":"CLUSTER","value":"dev-a"},{"name":"CLUSTER","value":"dev-b"}]}`, "dev-b", true},
		{`{"name":"dynamo-cmp-v1","parameters":[{"name":"cluster","string":"dev-a"},{"name":"configVersion","array":["g1.e1.c1"]}],"env":[{"name":"CONFIG_VERSION","value":"g1.e1.c1"}]}`, "dev-a", true},
		{`{"name":"dynamo-cmp-v1","parameters":[{"name":"cluster","map":{"a":"b"}}],"env":[{"name":"CLUSTER","value":"dev-a"}]}`, "", true},
	} {
		var app argocd.Application
		if err := json.Unmarshal([]byte(`{"spec":{"source":{"plugin":`+tc.plugin+`}}}`), &app); err != nil {
			t.Fatal(err)
		}
		if c, l := app.Cluster(argocdtest.PluginName), app.FollowsLatest(argocdtest.PluginName); c != tc.cluster || l != tc.latest {
			t.Errorf("%s: cluster %q latest %v, want %q %v", tc.plugin, c, l, tc.cluster, tc.latest)
		}
	}
}

// TestTerminateOperation: the request argocd-server accepts (DELETE with a JSON content type,
// the Application's namespace), and "no operation is in progress" is not an error.
func TestTerminateOperation(t *testing.T) {
	var got []string
	running := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Authorization"))
		switch {
		case r.Method != http.MethodGet && r.Header.Get("Content-Type") != "application/json":
			http.Error(w, "Invalid content type", http.StatusUnsupportedMediaType)
		case !running:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"Unable to terminate operation. No operation is in progress","code":3,"message":"Unable to terminate operation. No operation is in progress"}`))
		default:
			running = false
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	c, err := argocd.New(argocd.Options{URL: srv.URL, AllowInsecureHTTP: true, Token: secret.Static("tok"), HTTP: outbound.HTTPOptions{Timeout: 2 * time.Second}},
		outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	app := (&argocdtest.App{Namespace: "team-apps", Name: "dev-a-bootstrap", Cluster: "dev-a"}).Application(t)
	for i := range 2 {
		if err := c.TerminateOperation(context.Background(), app); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	want := "DELETE /api/v1/applications/dev-a-bootstrap/operation?appNamespace=team-apps application/json Bearer tok"
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("requests %q, want twice %q", got, want)
	}
}
