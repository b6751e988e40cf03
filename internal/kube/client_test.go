package kube_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dynamo-cmp/dynamo-cmp/internal/kube"
	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

const token = "sa-token"

// apiServer is a loopback Kubernetes API (TLS, bearer token) serving the ApplicationSets of
// one namespace in pages, and recording the patches it receives.
type apiServer struct {
	srv    *httptest.Server
	caFile string

	mu      sync.Mutex
	sets    []string        // names, in list order
	missing map[string]bool // names answered 404 to a patch (deleted meanwhile)
	// pending are the names carrying the refresh annotation.
	pending map[string]bool
	patches []string // "<name> <content type> <body>"
}

func newAPIServer(t *testing.T, names ...string) *apiServer {
	a := &apiServer{sets: names, missing: map[string]bool{}, pending: map[string]bool{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.caFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(a.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

const prefix = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets"

func (a *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == prefix:
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
		to := min(from+limit, len(a.sets))
		items := []map[string]any{}
		for _, n := range a.sets[from:to] {
			md := map[string]any{"name": n, "namespace": "argocd"}
			if a.pending[n] {
				md["annotations"] = map[string]string{kube.RefreshAnnotation: "true"}
			}
			items = append(items, map[string]any{"metadata": md, "spec": map[string]any{"generators": []any{}}})
		}
		cont := ""
		if to < len(a.sets) {
			cont = strconv.Itoa(to)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items, "metadata": map[string]any{"continue": cont}})
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, prefix+"/"):
		name := strings.TrimPrefix(r.URL.Path, prefix+"/")
		body, _ := io.ReadAll(r.Body)
		a.patches = append(a.patches, name+" "+r.Header.Get("Content-Type")+" "+string(body))
		if a.missing[name] {
			http.Error(w, `{"kind":"Status","code":404}`, http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	default:
		http.Error(w, `{"kind":"Status","code":403,"message":"forbidden"}`, http.StatusForbidden)
	}
}

func (a *apiServer) client(t *testing.T) *kube.Client {
	t.Helper()
	c, err := kube.New(kube.Options{URL: a.srv.URL, Token: secret.Static(token), CAFile: a.caFile,
		HTTP: outbound.HTTPOptions{Timeout: 5 * time.Second, RetryMax: 0}},
		outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A namespace with more ApplicationSets than one page holds: every one is listed (a fleet
// whose ApplicationSets were cut at the first page would never be refreshed).
func TestListApplicationSetsReadsEveryPage(t *testing.T) {
	var names []string
	for i := range 600 {
		names = append(names, fmt.Sprintf("set-%03d", i))
	}
	a := newAPIServer(t, names...)
	sets, err := a.client(t).ListApplicationSets(context.Background(), "argocd")
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != len(names) {
		t.Fatalf("listed %d ApplicationSets, want %d", len(sets), len(names))
	}
	for i, s := range sets {
		if s.Key() != "argocd/"+names[i] {
			t.Fatalf("ApplicationSet %d is %s, want argocd/%s", i, s.Key(), names[i])
		}
	}
}

// The refresh is a JSON merge patch of the one annotation. When the annotation is still
// there (a failed reconcile leaves it), it is removed first: the controller reconciles when
// it appears, so setting it again would wake nothing.
func TestAnnotateMakesTheAnnotationAppear(t *testing.T) {
	a := newAPIServer(t, "fresh", "stuck")
	a.pending["stuck"] = true
	c := a.client(t)
	sets, err := c.ListApplicationSets(context.Background(), "argocd")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if err := c.Annotate(context.Background(), s); err != nil {
			t.Fatalf("annotate %s: %v", s.Key(), err)
		}
	}
	const set = `{"metadata":{"annotations":{"argocd.argoproj.io/application-set-refresh":"true"}}}`
	const unset = `{"metadata":{"annotations":{"argocd.argoproj.io/application-set-refresh":null}}}`
	want := []string{
		"fresh application/merge-patch+json " + set,
		"stuck application/merge-patch+json " + unset,
		"stuck application/merge-patch+json " + set,
	}
	if strings.Join(a.patches, "\n") != strings.Join(want, "\n") {
		t.Errorf("patches:\n%s\nwant:\n%s", strings.Join(a.patches, "\n"), strings.Join(want, "\n"))
	}
}

// An ApplicationSet deleted between the list and the patch needs no refresh; a refused patch
// is an error naming what was refused.
func TestAnnotateErrors(t *testing.T) {
	a := newAPIServer(t, "gone")
	a.missing["gone"] = true
	c := a.client(t)
	var gone kube.ApplicationSet
	gone.Metadata.Name, gone.Metadata.Namespace = "gone", "argocd"
	if err := c.Annotate(context.Background(), gone); err != nil {
		t.Errorf("annotate a deleted ApplicationSet: %v, want no error", err)
	}
	var other kube.ApplicationSet
	other.Metadata.Name, other.Metadata.Namespace = "x", "team-a" // not served: 403
	err := c.Annotate(context.Background(), other)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "team-a") {
		t.Errorf("annotate refused with 403: %v, want an error naming the status and the ApplicationSet's path", err)
	}
	if strings.Contains(fmt.Sprint(err), token) {
		t.Errorf("the error shows the token: %v", err)
	}
}

// The API server's certificate is verified against the CA file (the service account's
// ca.crt): a server the CA did not sign is refused.
func TestTheAPIServerCertificateIsVerified(t *testing.T) {
	a := newAPIServer(t, "x")
	// Every httptest server has the same certificate: another CA is made here.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := kube.New(kube.Options{URL: a.srv.URL, Token: secret.Static(token), CAFile: otherCA, HTTP: outbound.HTTPOptions{Timeout: 5 * time.Second}},
		outbound.NewMetrics(prometheus.NewRegistry(), "test"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListApplicationSets(context.Background(), "argocd"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("list from a server the CA file did not sign: %v, want a certificate error", err)
	}
	if _, err := kube.New(kube.Options{URL: a.srv.URL, CAFile: filepath.Join(t.TempDir(), "none.crt")}, nil, nil); err == nil {
		t.Error("New with a missing CA file: no error")
	}
}
