package e2e

// Smoke tests of the harness itself: they use throwaway plugins and objects, not the product.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

func registerSmokeHelpers() {
	// smoke-generate prints one JSON ConfigMap built from the plugin's environment, or fails
	// like a plugin should when the cluster parameter is "missing".
	harness.RegisterHelper("smoke-generate", func([]string) int {
		cluster := os.Getenv("PARAM_CLUSTER")
		if cluster == "missing" {
			fmt.Fprintf(os.Stderr, "smoke: cluster %q has no configuration\n", cluster)
			return 3
		}
		cm := map[string]any{
			"apiVersion": "v1",
			"kind":       "ConfigMap",
			"metadata":   map[string]any{"name": "smoke-" + cluster, "namespace": "smoke"},
			"data": map[string]string{
				"app":        os.Getenv("ARGOCD_APP_NAME"),
				"project":    os.Getenv("ARGOCD_APP_PROJECT_NAME"),
				"parameters": os.Getenv("ARGOCD_APP_PARAMETERS"),
				"env":        os.Getenv("ARGOCD_ENV_GREETING"),
				"sidecarEnv": os.Getenv("SMOKE_SIDECAR"),
			},
		}
		if err := json.NewEncoder(os.Stdout).Encode(cm); err != nil {
			return 1
		}
		return 0
	})
	// smoke-parameters is a dynamic parameters command.
	harness.RegisterHelper("smoke-parameters", func([]string) int {
		fmt.Println(`[{"name":"configVersion","title":"Configuration version","string":"latest"}]`)
		return 0
	})
}

func TestSmokeCMPServer(t *testing.T) {
	t.Parallel()
	pluginDir := harness.WritePluginConfig(t, `apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: smoke
spec:
  version: v1
  generate:
    command: `+harness.YAMLCommand(harness.HelperCommand("smoke-generate"))+`
  parameters:
    static:
      - name: cluster
        title: Cluster
        required: true
    dynamic:
      command: `+harness.YAMLCommand(harness.HelperCommand("smoke-parameters"))+`
`)
	sock := harness.StartCMPServer(t, pluginDir, []string{"SMOKE_SIDECAR=yes"})

	t.Run("generate", func(t *testing.T) {
		manifests, err := harness.Generate(t, sock, harness.GenerateRequest{
			AppName:    "dev-k3s-bootstrap",
			Project:    "platform",
			PluginName: "smoke-v1",
			Params:     []harness.Param{harness.StringParam("cluster", "dev-k3s")},
			Env:        map[string]string{"GREETING": "hello"},
		})
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
		if len(manifests) != 1 {
			t.Fatalf("got %d manifests, want 1: %q", len(manifests), manifests)
		}
		objs, err := harness.ParseManifests(manifests...)
		if err != nil {
			t.Fatal(err)
		}
		cm := objs[0]
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		want := map[string]string{
			"app":        "dev-k3s-bootstrap",
			"project":    "platform",
			"parameters": `[{"name":"cluster","string":"dev-k3s"}]`,
			"env":        "hello",
			"sidecarEnv": "yes",
		}
		if cm.GetName() != "smoke-dev-k3s" || fmt.Sprint(data) != fmt.Sprint(want) {
			t.Errorf("got %s data %v, want ConfigMap smoke-dev-k3s data %v", harness.ObjectRef(cm), data, want)
		}
		if id := cm.GetAnnotations()["argocd.argoproj.io/tracking-id"]; id != "dev-k3s-bootstrap:/ConfigMap:smoke/smoke-dev-k3s" {
			t.Errorf("tracking-id annotation = %q", id)
		}
	})

	t.Run("failure", func(t *testing.T) {
		manifests, err := harness.Generate(t, sock, harness.GenerateRequest{
			AppName:    "broken",
			PluginName: "smoke-v1",
			Params:     []harness.Param{harness.StringParam("cluster", "missing")},
		})
		if err == nil || len(manifests) != 0 {
			t.Fatalf("got %d manifests and error %v, want an error and none", len(manifests), err)
		}
		for _, want := range []string{`CMP processing failed for application "broken"`, "exit status 3", `smoke: cluster "missing" has no configuration`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})

	t.Run("parameters", func(t *testing.T) {
		params, err := harness.ParameterAnnouncements(t, sock, harness.GenerateRequest{AppName: "dev-k3s-bootstrap", PluginName: "smoke-v1"})
		if err != nil {
			t.Fatalf("parameter announcements: %v", err)
		}
		var got []string
		for _, p := range params {
			got = append(got, fmt.Sprintf("%s(%s)=%q required=%v", p.Name, p.Title, p.String_, p.Required))
		}
		// Argo CD lists the dynamic announcements first, then the static ones.
		want := []string{`configVersion(Configuration version)="latest" required=false`, `cluster(Cluster)="" required=true`}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("announcements %v, want %v", got, want)
		}
	})
}

func TestSmokeKubeAPIServer(t *testing.T) {
	t.Parallel()
	k := harness.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	objs, err := harness.ParseManifests(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: dev-k3s-bootstrap
  namespace: smoke
spec:
  project: default
  destination: {server: "https://kubernetes.default.svc", namespace: default}
  source:
    repoURL: https://git.example.com/platform/cluster-bootstrap.git
    targetRevision: HEAD
    path: .
    plugin:
      name: dynamo-cmp-v1
      parameters:
        - {name: cluster, string: dev-k3s}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: smoke-pool
spec:
  cidr: 10.244.0.0/16
  blockSize: 26
  ipipMode: Never
  natOutgoing: true
---
apiVersion: v1
kind: Namespace
metadata:
  name: smoke
  labels: {team: platform}
`)
	if err != nil {
		t.Fatal(err)
	}

	// A dry run of a stream whose Namespace is new fails for the namespaced object, as on a
	// real cluster.
	res := k.Apply(ctx, objs, true)
	if res[0].Err == nil || res[1].Err != nil || res[2].Err != nil {
		t.Errorf("dry run: want only the Application rejected, got %v", harness.ApplyErrors(res))
	}

	res = k.Apply(ctx, objs, false)
	if err := harness.ApplyErrors(res); err != nil {
		t.Fatalf("apply: %v", err)
	}
	again := k.Apply(ctx, objs, false)
	if err := harness.ApplyErrors(again); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	for i := range res {
		if res[i].ResourceVersion == "" || res[i].ResourceVersion != again[i].ResourceVersion {
			t.Errorf("%s: resourceVersion %q after the first apply, %q after the second", res[i].Ref(), res[i].ResourceVersion, again[i].ResourceVersion)
		}
	}
	app, err := k.Get(ctx, "argoproj.io/v1alpha1", "Application", "smoke", "dev-k3s-bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if name, _, _ := unstructured.NestedString(app.Object, "spec", "source", "plugin", "name"); name != "dynamo-cmp-v1" {
		t.Errorf("stored Application has plugin %q", name)
	}

	// Strict field validation rejects unknown fields in CRDs and built-in kinds.
	bad, err := harness.ParseManifests(
		`{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"bad-pool"},"spec":{"cidr":"10.245.0.0/16","natOutgoingg":true}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad","namespace":"smoke"},"dataa":{"k":"v"}}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range k.Apply(ctx, bad, false) {
		if !harness.IsFieldValidationError(r.Err) {
			t.Errorf("%s: want an unknown-field rejection, got %v", r.Ref(), r.Err)
		}
	}
}

func TestSmokeDynamoDBLocal(t *testing.T) {
	t.Parallel()
	db := harness.StartDynamoDB(t)
	get := func() (int, error) {
		resp, err := http.Get(db.Endpoint + "/")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// DynamoDB Local answers 400 to a plain GET.
	if code, err := get(); err != nil || code != http.StatusBadRequest {
		t.Fatalf("GET %s: %d %v, want 400", db.Endpoint, code, err)
	}
	db.Stop()
	if _, err := get(); err == nil {
		t.Fatalf("DynamoDB Local still answers after Stop")
	}
}
