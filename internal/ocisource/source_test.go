package ocisource_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ocisource"
)

// startRegistry runs go-containerregistry's registry (the distribution API) on 127.0.0.1
// at a free port; with user set, every request needs that Basic auth.
func startRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	if user != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func dockerConfig(t *testing.T, host, user, pass string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := map[string]any{"auths": map[string]any{host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fetchArtifact reads what a client such as the Argo CD repo-server sees behind the tag.
func fetchArtifact(t *testing.T, host, repo, tag string) (ocispec.Descriptor, ocispec.Manifest, []byte) {
	t.Helper()
	ctx := context.Background()
	r, err := remote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	desc, rc, err := r.FetchReference(ctx, tag)
	if err != nil {
		t.Fatalf("fetch %s: %v", tag, err)
	}
	defer rc.Close()
	raw, err := content.ReadAll(rc, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("layers = %d, want 1", len(m.Layers))
	}
	lrc, err := r.Fetch(ctx, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer lrc.Close()
	layer, err := content.ReadAll(lrc, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	return desc, m, layer
}

func untar(t *testing.T, layer []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

func TestPushIsWhatArgoCDExtracts(t *testing.T) {
	host := startRegistry(t, "", "")
	ctx := context.Background()
	res, err := ocisource.Push(ctx, ocisource.Options{Reference: "oci://" + host + "/platform/dynamo-cmp-source:v1", PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	desc, m, layer := fetchArtifact(t, host, "platform/dynamo-cmp-source", "v1")
	if res.Digest != desc.Digest.String() {
		t.Errorf("printed digest %s, registry resolves the tag to %s", res.Digest, desc.Digest)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("manifest media type %s", desc.MediaType)
	}
	// Argo CD v3.5.7 (util/oci/client.go) accepts exactly one layer whose media type ends in
	// tar, tar+gzip or tar.gzip and is in --oci-layer-media-types (default: the two OCI image
	// layer types and the Helm chart layer). A Helm config media type would make it look for
	// a chart directory instead.
	if got := m.Layers[0].MediaType; got != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Errorf("layer media type %s", got)
	}
	if m.Config.MediaType == "application/vnd.cncf.helm.config.v1+json" {
		t.Errorf("config media type is Helm's")
	}
	files := untar(t, layer)
	if len(files) != 1 || files[ocisource.PlaceholderName] == "" {
		t.Errorf("layer holds %v, want the one non-empty %s", files, ocisource.PlaceholderName)
	}

	// The digest is Argo CD's cache key: pushing the same placeholder again (another tag
	// too, a second later: nothing time-stamped) must not change it.
	time.Sleep(1100 * time.Millisecond)
	again, err := ocisource.Push(ctx, ocisource.Options{Reference: "oci://" + host + "/platform/dynamo-cmp-source:v2", PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("second push digest %s, first %s: not reproducible", again.Digest, res.Digest)
	}
}

func TestPushCredentialsFromDockerConfig(t *testing.T) {
	host := startRegistry(t, "ci", "s3cret")
	ref := "oci://" + host + "/platform/src:v1"
	ctx := context.Background()

	_, err := ocisource.Push(ctx, ocisource.Options{Reference: ref, PlainHTTP: true})
	if err == nil || errors.Is(err, ocisource.ErrReference) {
		t.Fatalf("anonymous push to a registry that needs credentials: err = %v, want a registry error", err)
	}
	_, err = ocisource.Push(ctx, ocisource.Options{Reference: ref, PlainHTTP: true, DockerConfig: dockerConfig(t, host, "ci", "wrong")})
	if err == nil {
		t.Fatal("push with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := ocisource.Push(ctx, ocisource.Options{Reference: ref, PlainHTTP: true, DockerConfig: dockerConfig(t, host, "ci", "s3cret")}); err != nil {
		t.Fatalf("push with the docker config's credentials: %v", err)
	}
	// A missing config file is anonymous, not an error of its own.
	_, err = ocisource.Push(ctx, ocisource.Options{Reference: ref, PlainHTTP: true, DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if err == nil || strings.Contains(err.Error(), "docker credentials") {
		t.Errorf("missing docker config: err = %v, want the registry's refusal", err)
	}
}

func TestPushUnreachableRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there any more
	_, err := ocisource.Push(context.Background(), ocisource.Options{Reference: "oci://" + host + "/a/b:v1", PlainHTTP: true, HTTPClient: http.DefaultClient})
	if err == nil || errors.Is(err, ocisource.ErrReference) {
		t.Fatalf("err = %v, want a registry error", err)
	}
	if !strings.Contains(err.Error(), host) {
		t.Errorf("error does not name the registry: %v", err)
	}
}

func TestParseReference(t *testing.T) {
	for _, tc := range []struct {
		ref       string
		plainHTTP bool
		wantErr   string
	}{
		{ref: "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/dynamo-cmp-source:v1"},
		{ref: "oci://127.0.0.1:5000/a/b:v1", plainHTTP: true},
		{ref: "oci://localhost:5000/a:v1", plainHTTP: true},
		{ref: "oci://[::1]:5000/a:v1", plainHTTP: true},
		{ref: "registry.example.com/a:v1", wantErr: "must start with oci://"},
		{ref: "oci://registry.example.com/a", wantErr: "no tag"},
		{ref: "oci://registry.example.com/a@sha256:" + strings.Repeat("0", 64), wantErr: "not a digest"},
		{ref: "oci://registry.example.com/A:v1", wantErr: "bad oci reference"},
		{ref: "oci://registry.example.com/a:v1", plainHTTP: true, wantErr: "only for a registry on loopback"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := ocisource.ParseReference(tc.ref, tc.plainHTTP)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ocisource.ErrReference) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrReference containing %q", err, tc.wantErr)
			}
		})
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Issue 18 §5: a push without --plain-http to a registry that speaks plain HTTP failed with
// Go's "server gave HTTP response to HTTPS client" and no hint. It says what happened and what
// to do: add --plain-http on loopback; off loopback (where --plain-http is refused) serve the
// registry over HTTPS. Either way it is ErrPlainHTTP, not a failure worth retrying.
func TestPushToPlainHTTPRegistrySaysSo(t *testing.T) {
	host := startRegistry(t, "", "")
	_, err := ocisource.Push(context.Background(), ocisource.Options{Reference: "oci://" + host + "/platform/src:v1"})
	if !errors.Is(err, ocisource.ErrPlainHTTP) || !strings.Contains(err.Error(), "the registry "+host+" answered plain HTTP to an HTTPS request: add --plain-http (allowed for a registry on loopback)") {
		t.Errorf("loopback registry speaking HTTP: %v", err)
	}

	// Off loopback, as Go's client reports it when the server answers HTTP.
	answersHTTP := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, http.ErrSchemeMismatch
	})}
	_, err = ocisource.Push(context.Background(), ocisource.Options{Reference: "oci://registry.example.com/platform/src:v1", HTTPClient: answersHTTP})
	if !errors.Is(err, ocisource.ErrPlainHTTP) || !strings.Contains(err.Error(), "the registry registry.example.com answered plain HTTP to an HTTPS request: serve it over HTTPS (--plain-http is only for a registry on loopback)") {
		t.Errorf("remote registry speaking HTTP: %v", err)
	}

	// Any other failure keeps its own message.
	refused := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused")
	})}
	if _, err = ocisource.Push(context.Background(), ocisource.Options{Reference: "oci://registry.example.com/platform/src:v1", HTTPClient: refused}); errors.Is(err, ocisource.ErrPlainHTTP) || strings.Contains(err.Error(), "plain") {
		t.Errorf("a refused connection is reported as plain HTTP: %v", err)
	}
}
