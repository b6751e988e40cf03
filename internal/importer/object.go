package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Object is one imported Kubernetes object of one cluster.
type Object struct {
	// Cluster is the cluster it was imported from.
	Cluster string
	// Source says where it was read: a file (and document number), or a kubeconfig context.
	Source string
	// Body is the object as plain data (maps, slices, strings, bools, int64, float64), with
	// null values dropped.
	Body map[string]any
}

// APIVersion, Kind, Name and Namespace read the object's identity.
func (o Object) APIVersion() string { s, _ := o.Body["apiVersion"].(string); return s }

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o.Body["kind"].(string); return s }

func (o Object) meta(field string) string {
	md, _ := o.Body["metadata"].(map[string]any)
	s, _ := md[field].(string)
	return s
}

// Name returns metadata.name.
func (o Object) Name() string { return o.meta("name") }

// Namespace returns metadata.namespace.
func (o Object) Namespace() string { return o.meta("namespace") }

// Group returns the API group of the object's apiVersion ("" for the core group).
func (o Object) Group() string { return groupOf(o.APIVersion()) }

func groupOf(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// Ref names the object as users read it: "Kind namespace/name" or "Kind name".
func (o Object) Ref() string {
	if ns := o.Namespace(); ns != "" {
		return o.Kind() + " " + ns + "/" + o.Name()
	}
	return o.Kind() + " " + o.Name()
}

// identity is the key an object is unique by within a cluster.
func (o Object) identity() string {
	return o.Group() + "/" + o.Kind() + "/" + o.Namespace() + "/" + o.Name()
}

// where names the cluster, source and object for messages.
func (o Object) where() string {
	return fmt.Sprintf("cluster %s: %s: %s", o.Cluster, o.Source, o.Ref())
}

// ReadManifests reads the objects of one cluster from files and directories (recursively, in
// lexical order; *.yaml, *.yml and *.json; a directory holding a kustomization is built as
// `kustomize build DIR` would), as `kustomize build` or `kubectl get -o yaml`
// write them: YAML streams, JSON documents, and v1 List objects whose items are expanded.
// Null values are dropped (the API server treats them as absent).
func ReadManifests(cluster string, paths []string) ([]Object, error) {
	var files []string
	var built []Object
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cluster, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		if isKustomization(p) {
			objs, err := kustomizeBuild(cluster, p)
			if err != nil {
				return nil, err
			}
			built = append(built, objs...)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isManifestFile(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cluster, err)
		}
		sort.Strings(found)
		if len(found) == 0 {
			return nil, fmt.Errorf("cluster %s: %s: no *.yaml, *.yml or *.json files in the directory", cluster, p)
		}
		files = append(files, found...)
	}
	objs := built
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", cluster, err))
			continue
		}
		got, err := ParseManifests(cluster, f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, got...)
	}
	return objs, errors.Join(errs...)
}

// kustomizationFiles are the names kustomize reads a kustomization from.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// isKustomization reports whether dir is a kustomization (import builds it, as kustomize
// build does).
func isKustomization(dir string) bool {
	for _, n := range kustomizationFiles {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// kustomizeBuild builds a kustomization with kustomize's own library (what `kustomize build
// DIR` prints), Helm chart inflation and plugins off.
func kustomizeBuild(cluster, dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kustomize build %s: %w", cluster, dir, err)
	}
	data, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kustomize build %s: %w", cluster, dir, err)
	}
	return ParseManifests(cluster, "kustomize build "+dir, data)
}

func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ParseManifests decodes the objects of a YAML stream or JSON document; name is the source
// in messages.
func ParseManifests(cluster, name string, data []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		src := name
		if i > 1 {
			src = fmt.Sprintf("%s (document %d)", name, i)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %s: %w", cluster, src, err))
			break
		}
		if doc == nil {
			continue
		}
		got, err := objectsOf(cluster, src, doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, got...)
	}
	return objs, errors.Join(errs...)
}

// objectsOf turns one decoded document into objects (a List gives its items).
func objectsOf(cluster, src string, doc any) ([]Object, error) {
	raw, err := toRaw(doc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %s: %w", cluster, src, err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cluster %s: %s: a Kubernetes object must be a map", cluster, src)
	}
	if kind, _ := m["kind"].(string); strings.HasSuffix(kind, "List") && m["apiVersion"] == "v1" {
		items, _ := m["items"].([]any)
		var out []Object
		for i, it := range items {
			im, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("cluster %s: %s: items[%d]: a Kubernetes object must be a map", cluster, src, i)
			}
			out = append(out, Object{Cluster: cluster, Source: fmt.Sprintf("%s items[%d]", src, i), Body: dropNulls(im).(map[string]any)})
		}
		return out, nil
	}
	return []Object{{Cluster: cluster, Source: src, Body: dropNulls(m).(map[string]any)}}, nil
}

// toRaw converts a decoded document into the plain values of layer bodies.
func toRaw(doc any) (any, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return doc, nil
	}
	return config.NormalizeBody(m)
}

// dropNulls removes null map values (a list keeps its elements).
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if e == nil {
				continue
			}
			out[k] = dropNulls(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = dropNulls(e)
		}
		return out
	default:
		return v
	}
}

// canonicalJSON is how objects are compared: JSON with sorted keys.
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
