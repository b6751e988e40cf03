package e2e

// dynamo-cmp serve end to end: Argo CD's own ApplicationSet plugin-generator client asks our
// server for parameters, a publish moves the served configVersion, the server annotates the
// ApplicationSet in a real kube-apiserver, and the CMP path renders the new version.

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v3/applicationset/services/plugin"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const refreshAnnotation = "argocd.argoproj.io/application-set-refresh"

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startProduct(t)
	kube := harness.StartKubeAPIServer(t)
	if _, err := kube.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd", Labels: map[string]string{"team": "platform"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The example ApplicationSet (plugin generator), and one that does not use our generator.
	example := readRepoFile(t, "manifests/examples/applicationset-plugin-generator.yaml")
	other := `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: unrelated, namespace: argocd}
spec:
  goTemplate: true
  generators: [{list: {elements: [{name: x}]}}]
  template:
    metadata: {name: '{{.name}}'}
    spec:
      project: default
      source: {repoURL: https://git.example.com/x.git, path: ., targetRevision: HEAD}
      destination: {server: https://kubernetes.default.svc, namespace: default}
`
	results, err := kube.ApplyManifests(ctx, []string{example, other}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.ApplyErrors(results); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	token := "e2e-generator-token-0123456789abcdef" // 32 bytes at least
	tokenFile := writeSecret(t, dir, "generator-token", token)
	kubeTokenFile := writeSecret(t, dir, "kube-token", kube.Config.BearerToken)
	kubeCA := serverCA(t, kube.Config.Host, filepath.Join(dir, "kube-ca.crt"))
	base := startServe(t, p.env, "--generator-token-file", tokenFile,
		"--kube-url", kube.Config.Host, "--kube-token-file", kubeTokenFile, "--kube-ca-file", kubeCA, "--namespaces", "argocd")

	list := func(t *testing.T, tok string, params v1alpha1.PluginParameters) (*plugin.ServiceResponse, error) {
		t.Helper()
		svc, err := plugin.NewPluginService("cluster-bootstrap", base, tok, 10)
		if err != nil {
			t.Fatal(err)
		}
		return svc.List(ctx, params)
	}
	served := func(t *testing.T) string {
		t.Helper()
		resp, err := list(t, token, nil)
		if err != nil {
			t.Fatalf("Argo CD's plugin generator client: %v", err)
		}
		if len(resp.Output.Parameters) != 1 {
			t.Fatalf("%d parameter sets, want 1 (dev-k3s)", len(resp.Output.Parameters))
		}
		set := resp.Output.Parameters[0]
		if set["cluster"] != cluster || set["environment"] != "dev" || set["region"] != "eu-west-1" {
			t.Fatalf("parameter set %v", set)
		}
		v, _ := set["configVersion"].(string)
		return v
	}

	t.Run("Argo CD's plugin generator client", func(t *testing.T) {
		if v := served(t); v != "g1.e1.c1" {
			t.Fatalf("configVersion %q, want g1.e1.c1", v)
		}
		if _, err := list(t, "wrong", nil); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("a wrong token: %v, want a 401", err)
		}
		resp, err := list(t, token, v1alpha1.PluginParameters{"environment": apiJSON(t, `"prod"`)})
		if err != nil || len(resp.Output.Parameters) != 0 {
			t.Errorf("environment filter prod: %v, %v", resp, err)
		}
	})

	t.Run("a publish is pushed to the ApplicationSet and served", func(t *testing.T) {
		appsets := kube.Dynamic.Resource(v1alpha1.SchemeGroupVersion.WithResource("applicationsets")).Namespace("argocd")
		// serve annotates every ApplicationSet using the generator when it starts; the
		// controller would remove the annotation after reconciling. Do as it does.
		waitUntil(t, 20*time.Second, "the startup refresh annotation", func() bool { return annotated(t, appsets, "cluster-bootstrap") })
		clear := func() {
			patch := []byte(`{"metadata":{"annotations":{"` + refreshAnnotation + `":null}}}`)
			if _, err := appsets.Patch(ctx, "cluster-bootstrap", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		clear()
		time.Sleep(4 * time.Second) // serve repeats its annotation once after a change; let it settle
		clear()

		layer := strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1)
		file := filepath.Join(t.TempDir(), "dev.yaml")
		writeFile(t, file, layer)
		published := time.Now()
		p.cli(t, "config", "publish", "-f", file, "--layer", "env/dev", "-m", "more cpu", "--actor", "e2e")

		waitUntil(t, 20*time.Second, "the refresh annotation after the publish", func() bool { return annotated(t, appsets, "cluster-bootstrap") })
		annotatedAfter := time.Since(published)
		waitUntil(t, 20*time.Second, "configVersion g1.e2.c1 from the generator", func() bool { return served(t) == "g1.e2.c1" })
		servedAfter := time.Since(published)
		t.Logf("publish → ApplicationSet annotated after %s, new configVersion served after %s", annotatedAfter.Round(time.Millisecond), servedAfter.Round(time.Millisecond))
		if annotated(t, appsets, "unrelated") {
			t.Error("an ApplicationSet that does not use the generator was annotated")
		}

		manifests, err := p.generate(t, "g1.e2.c1", false)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range manifests {
			if strings.Contains(m, `"name":"dev-quota","namespace":"dev-team"`) {
				found = strings.Contains(m, `"cpu":"6"`)
			}
		}
		if !found {
			t.Error("the CMP path does not render the published version (dev-quota with cpu 6 at g1.e2.c1)")
		}
	})
}

// startServe runs `dynamo-cmp serve` on a free 127.0.0.1 port until the test ends and returns
// its base URL once /readyz answers.
func startServe(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	opsAddr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.DynamoCmpPath(t), append([]string{"serve", "--listen", addr, "--metrics-address", opsAddr}, args...)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := harness.StartChild(cmd); err != nil { // dies with this test process
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logPath); err == nil {
				t.Logf("dynamo-cmp serve log:\n%s", data)
			}
		}
	})
	base := "http://" + addr
	waitUntil(t, 30*time.Second, "dynamo-cmp serve /readyz", func() bool {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

func annotated(t *testing.T, appsets interface {
	Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
}, name string) bool {
	t.Helper()
	obj, err := appsets.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.GetAnnotations()[refreshAnnotation] == "true"
}

// freeAddr returns a free 127.0.0.1 address (for serve's --metrics-address).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeSecret(t testing.TB, dir, name, value string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverCA writes the certificates the API server presents as a CA bundle, so serve can
// verify it (the test API server's certificate is self-signed).
func serverCA(t testing.TB, host, path string) string {
	t.Helper()
	addr := strings.TrimPrefix(host, "https://")
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var bundle []byte
	for _, c := range conn.ConnectionState().PeerCertificates {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func apiJSON(t *testing.T, s string) apiextensionsv1.JSON {
	t.Helper()
	var v apiextensionsv1.JSON
	if err := v.UnmarshalJSON([]byte(s)); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", s, err))
	}
	return v
}
