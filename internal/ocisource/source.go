package ocisource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

const (
	// ArtifactType marks the manifest as a dynamo-cmp source; Argo CD ignores it.
	ArtifactType = "application/vnd.dynamo-cmp.source.v1"
	// LayerMediaType is one of the three layer media types the Argo CD v3 repo-server
	// accepts by default (--oci-layer-media-types).
	LayerMediaType = ocispec.MediaTypeImageLayerGzip
	// PlaceholderName is the one file in the layer: argocd-cmp-server refuses to run a
	// plugin on an empty directory, and dynamo-cmp reads nothing from it.
	PlaceholderName = "README.md"
	// created is the fixed creation time stamped on the manifest, so the same placeholder
	// always has the same digest (Argo CD keys its manifest cache on the digest).
	created = "1970-01-01T00:00:00Z"
)

// Placeholder is the content of PlaceholderName.
const Placeholder = `This OCI artifact is the source of Argo CD Applications rendered by the dynamo-cmp plugin
(plugin.name: dynamo-cmp-v1). dynamo-cmp reads nothing from it: the configuration lives in
DynamoDB. Built by "dynamo-cmp source push".
`

// ErrReference marks a reference that is not oci://REGISTRY/REPOSITORY:TAG or may not be
// used as asked (plain HTTP to a host that is not loopback).
var ErrReference = errors.New("bad oci reference")

// ErrPlainHTTP marks a push to a registry that answered plain HTTP to an HTTPS request: the
// push needs --plain-http (on loopback) or a registry served over HTTPS; retrying will not help.
var ErrPlainHTTP = errors.New("registry speaks plain HTTP")

// answeredHTTP reports whether err shows that the server answered an HTTPS request with
// plain HTTP: Go's client says so (http.ErrSchemeMismatch), or a TLS handshake got a
// record starting "HTTP/" back.
func answeredHTTP(err error) bool {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	var rh tls.RecordHeaderError
	return errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/"
}

// plainHTTPError is an ErrPlainHTTP that says what to do.
type plainHTTPError struct{ ref registry.Reference }

func (e *plainHTTPError) Error() string {
	hint := "serve it over HTTPS (--plain-http is only for a registry on loopback)"
	if isLoopback(e.ref.Registry) {
		hint = "add --plain-http (allowed for a registry on loopback)"
	}
	return fmt.Sprintf("push %s: the registry %s answered plain HTTP to an HTTPS request: %s", e.ref, e.ref.Registry, hint)
}

// Is makes errors.Is(err, ErrPlainHTTP) true.
func (e *plainHTTPError) Is(target error) bool { return target == ErrPlainHTTP }

// Options says where and how to push.
type Options struct {
	// Reference is oci://REGISTRY/REPOSITORY:TAG.
	Reference string
	// PlainHTTP talks HTTP instead of HTTPS; allowed only for a loopback registry.
	PlainHTTP bool
	// DockerConfig is the path of the Docker config.json whose auths, credsStore and
	// credHelpers (e.g. docker-credential-ecr-login) give the credentials; empty means
	// anonymous.
	DockerConfig string
	// HTTPClient, if set, replaces the default retrying client (tests).
	HTTPClient *http.Client
}

// Result is what was pushed.
type Result struct {
	Reference string // REGISTRY/REPOSITORY:TAG, without the scheme
	Digest    string // manifest digest: the revision Argo CD resolves the tag to
	MediaType string
}

// ParseReference checks an oci://REGISTRY/REPOSITORY:TAG reference and returns it without
// the scheme. A digest instead of a tag is refused: a push names a tag.
func ParseReference(ref string, plainHTTP bool) (registry.Reference, error) {
	rest, ok := strings.CutPrefix(ref, "oci://")
	if !ok {
		return registry.Reference{}, fmt.Errorf("%w %q: must start with oci://", ErrReference, ref)
	}
	r, err := registry.ParseReference(rest)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w %q: %w", ErrReference, ref, err)
	}
	if r.Reference == "" {
		return registry.Reference{}, fmt.Errorf("%w %q: no tag (oci://REGISTRY/REPOSITORY:TAG)", ErrReference, ref)
	}
	if strings.Contains(r.Reference, ":") {
		return registry.Reference{}, fmt.Errorf("%w %q: name a tag, not a digest", ErrReference, ref)
	}
	if plainHTTP && !isLoopback(r.Registry) {
		return registry.Reference{}, fmt.Errorf("%w %q: plain HTTP is only for a registry on loopback, not %s", ErrReference, ref, r.Registry)
	}
	return r, nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Layer returns the placeholder layer: a gzip-compressed tar holding PlaceholderName,
// byte for byte the same on every call (fixed times, owner and mode).
func Layer() ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf) // zero ModTime and no name: reproducible header
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     PlaceholderName,
		Mode:     0o644,
		Size:     int64(len(Placeholder)),
		ModTime:  time.Unix(0, 0).UTC(),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("write placeholder tar header: %w", err)
	}
	if _, err := tw.Write([]byte(Placeholder)); err != nil {
		return nil, fmt.Errorf("write placeholder: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close placeholder tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("close placeholder gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// build packs the artifact into a memory store and returns the manifest descriptor.
func build(ctx context.Context, store content.Pusher) (ocispec.Descriptor, error) {
	layer, err := Layer()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layerDesc := content.NewDescriptorFromBytes(LayerMediaType, layer)
	if err := store.Push(ctx, layerDesc, bytes.NewReader(layer)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("stage placeholder layer: %w", err)
	}
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		Layers:              []ocispec.Descriptor{layerDesc},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: created},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack placeholder manifest: %w", err)
	}
	return desc, nil
}

// Push builds the placeholder artifact and pushes it under opts.Reference. A registry
// failure (unreachable, denied, refused) is returned wrapped; a bad reference wraps
// ErrReference.
func Push(ctx context.Context, opts Options) (Result, error) {
	ref, err := ParseReference(opts.Reference, opts.PlainHTTP)
	if err != nil {
		return Result{}, err
	}
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return Result{}, fmt.Errorf("%w %q: %w", ErrReference, opts.Reference, err)
	}
	repo.PlainHTTP = opts.PlainHTTP
	client := &auth.Client{
		Client: retry.DefaultClient,
		Cache:  auth.NewCache(),
		Header: http.Header{"User-Agent": {"dynamo-cmp"}},
	}
	if opts.HTTPClient != nil {
		client.Client = opts.HTTPClient
	}
	if opts.DockerConfig != "" {
		store, err := credentials.NewStore(opts.DockerConfig, credentials.StoreOptions{})
		if err != nil {
			return Result{}, fmt.Errorf("read docker credentials %s: %w", opts.DockerConfig, err)
		}
		client.Credential = credentials.Credential(store)
	}
	repo.Client = client

	staged := memory.New()
	desc, err := build(ctx, staged)
	if err != nil {
		return Result{}, err
	}
	if err := staged.Tag(ctx, desc, ref.Reference); err != nil {
		return Result{}, fmt.Errorf("stage placeholder manifest: %w", err)
	}
	if _, err := oras.Copy(ctx, staged, ref.Reference, repo, ref.Reference, oras.DefaultCopyOptions); err != nil {
		if !opts.PlainHTTP && answeredHTTP(err) {
			return Result{}, &plainHTTPError{ref: ref}
		}
		return Result{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return Result{Reference: ref.String(), Digest: desc.Digest.String(), MediaType: desc.MediaType}, nil
}
