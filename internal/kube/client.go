package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dynamo-cmp/dynamo-cmp/internal/outbound"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// RefreshAnnotation is the annotation that makes the ApplicationSet controller reconcile an
// ApplicationSet at once (Argo CD's own webhook handler sets it; the controller removes it
// after reconciling).
const RefreshAnnotation = "argocd.argoproj.io/application-set-refresh"

// Options reach the Kubernetes API.
type Options struct {
	// URL is the API server (in cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
	URL string
	// Token is the bearer token (in cluster: the service account token file, re-read as it
	// rotates).
	Token secret.Secret
	// CAFile verifies the API server's certificate (in cluster: the service account's ca.crt).
	CAFile string
	// Namespaces are where ApplicationSets are looked for.
	Namespaces []string
	HTTP       outbound.HTTPOptions
}

// Client talks to the Kubernetes API.
type Client struct {
	base  string
	token secret.Secret
	http  *retryablehttp.Client
}

// New returns a client of the API server o names.
func New(o Options, m *outbound.Metrics, log *slog.Logger) (*Client, error) {
	tc, err := outbound.TLSConfig(o.CAFile, false)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	if _, err := url.Parse(o.URL); err != nil {
		return nil, fmt.Errorf("kubernetes: API server URL: %w", err)
	}
	return &Client{base: strings.TrimSuffix(o.URL, "/"), token: o.Token, http: outbound.NewClient(outbound.TargetKube, o.HTTP.WithDefaults(), tc, m, log)}, nil
}

// ApplicationSet is the part of an ApplicationSet the service reads.
type ApplicationSet struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Generators []json.RawMessage `json:"generators"`
	} `json:"spec"`
}

// RefreshPending reports whether the ApplicationSet carries the refresh annotation already
// (a refresh not yet done, or one whose reconcile failed: the controller then leaves it).
func (a ApplicationSet) RefreshPending() bool {
	_, ok := a.Metadata.Annotations[RefreshAnnotation]
	return ok
}

// Key names the ApplicationSet: "<namespace>/<name>".
func (a ApplicationSet) Key() string { return a.Metadata.Namespace + "/" + a.Metadata.Name }

const appSetResource = "/apis/argoproj.io/v1alpha1/namespaces/%s/applicationsets"

// ListApplicationSets lists the ApplicationSets of a namespace (pages of 250).
func (k *Client) ListApplicationSets(ctx context.Context, ns string) ([]ApplicationSet, error) {
	var out []ApplicationSet
	path := fmt.Sprintf(appSetResource, url.PathEscape(ns))
	cont := ""
	for {
		q := url.Values{"limit": {"250"}}
		if cont != "" {
			q.Set("continue", cont)
		}
		var page struct {
			Items    []ApplicationSet `json:"items"`
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
		}
		c := outbound.Call{Target: outbound.TargetKube, Method: http.MethodGet, URL: k.base + path + "?" + q.Encode(), Path: path, Token: k.token}
		if err := c.Do(ctx, k.http, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Metadata.Continue == "" {
			return out, nil
		}
		cont = page.Metadata.Continue
	}
}

// Annotate sets the refresh annotation with a JSON merge patch of that one annotation, as
// Argo CD's webhook handler does (3.6.2 too: never the whole object, whose spec written back
// through other types would drift from what the user applied). The ApplicationSet controller reconciles when the annotation appears (not when it
// is set again, nor when it goes), and leaves it in place when a reconcile fails: when set
// (as listed) carries it already, it is removed first, so that setting it wakes the
// controller. An ApplicationSet deleted meanwhile is not an error.
func (k *Client) Annotate(ctx context.Context, set ApplicationSet) error {
	if set.RefreshPending() {
		if err := k.patchRefresh(ctx, set, nil); err != nil {
			return err
		}
	}
	v := "true"
	return k.patchRefresh(ctx, set, &v)
}

// patchRefresh sets the refresh annotation to *value, or removes it (nil).
func (k *Client) patchRefresh(ctx context.Context, set ApplicationSet, value *string) error {
	path := fmt.Sprintf(appSetResource, url.PathEscape(set.Metadata.Namespace)) + "/" + url.PathEscape(set.Metadata.Name)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{RefreshAnnotation: value}}})
	c := outbound.Call{Target: outbound.TargetKube, Method: http.MethodPatch, URL: k.base + path, Path: path, Token: k.token,
		Body: patch, ContentType: "application/merge-patch+json"}
	err := c.Do(ctx, k.http, nil)
	var se *outbound.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil
	}
	return err
}
