package layerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/yamlnode"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// APIVersion is the optional apiVersion of layer documents.
const APIVersion = "dynamo-cmp.io/v1"

// MaxFileSize bounds a single layer file (a layer may span many files).
const MaxFileSize = 64 << 20

// topLevelFields are the keys a layer document may have besides the entry sections.
var topLevelFields = map[string]bool{"apiVersion": true, "kind": true, "layer": true}

// ReadLayerFiles reads layer documents from files and directories (recursively, in lexical
// order; *.yaml, *.yml and *.json) and returns one Layer per layer reference, ordered global,
// env layers, cluster layers. Several documents may contribute to one layer as long as they
// do not define the same entry twice. Every problem found is reported, joined.
func ReadLayerFiles(paths []string) ([]config.Layer, error) {
	files, err := ReadFiles(paths)
	if err != nil {
		return nil, err
	}
	c := newLayerCollector()
	c.addFiles(files)
	return c.result()
}

// File is a layer file as ReadFiles read it: its path, and its bytes or why it could not be
// read.
type File struct {
	Path string
	Data []byte
	Err  error
}

// ReadFiles reads the layer files of paths once: files as given, directories recursively in
// lexical order (*.yaml, *.yml, *.json). A file that cannot be read carries its error, which
// the layer read of the files reports with the others.
func ReadFiles(paths []string) ([]File, error) {
	names, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	files := make([]File, len(names))
	for i, f := range names {
		files[i].Path = f
		files[i].Data, files[i].Err = readBounded(f)
	}
	return files, nil
}

// addFiles adds the documents of files, and the errors of those that could not be read.
func (c *layerCollector) addFiles(files []File) {
	for _, f := range files {
		if f.Err != nil {
			c.errs = append(c.errs, f.Err)
			continue
		}
		c.addSource(f.Path, f.Data)
	}
}

// expandPaths lists the layer files of paths: files as given, directories recursively in
// lexical order.
func expandPaths(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, errors.Unwrap(err))
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isLayerFile(path) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		sort.Strings(found)
		if len(found) == 0 {
			return nil, fmt.Errorf("read %s: no *.yaml, *.yml or *.json files in the directory", p)
		}
		files = append(files, found...)
	}
	return files, nil
}

// ReadLayerFilesFor reads the documents of one layer: documents without a "layer" field
// belong to ref, and a document naming another layer is an error.
func ReadLayerFilesFor(paths []string, ref config.LayerRef) (config.Layer, error) {
	files, err := ReadFiles(paths)
	if err != nil {
		return config.Layer{}, err
	}
	return LayerOf(files, ref)
}

// LayerOf is ReadLayerFilesFor of files ReadFiles has read.
func LayerOf(files []File, ref config.LayerRef) (config.Layer, error) {
	c := newLayerCollector()
	c.want = &ref
	c.addFiles(files)
	layers, err := c.result()
	if err != nil {
		return config.Layer{}, err
	}
	if len(layers) == 0 {
		return config.Layer{Ref: ref}, nil
	}
	return layers[0], nil
}

// ParseLayers decodes layer documents from data (a YAML stream or JSON); name is used in
// error messages.
func ParseLayers(name string, data []byte) ([]config.Layer, error) {
	c := newLayerCollector()
	c.addSource(name, data)
	return c.result()
}

func isLayerFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d MiB; split the layer into several files", path, MaxFileSize>>20)
	}
	return data, nil
}

type layerCollector struct {
	// want, when set, is the layer of documents without a "layer" field.
	want   *config.LayerRef
	layers map[config.LayerRef]*config.Layer
	origin map[config.LayerRef]map[string]string // entry ID → source that defined it
	errs   []error
}

func newLayerCollector() *layerCollector {
	return &layerCollector{layers: map[config.LayerRef]*config.Layer{}, origin: map[config.LayerRef]map[string]string{}}
}

func (c *layerCollector) addSource(name string, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		src := name
		if i > 1 {
			src = fmt.Sprintf("%s (document %d)", name, i)
		}
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: %w", src, syntaxError(data, err)))
			return
		}
		if doc == nil {
			continue
		}
		raw, err := config.Normalize(doc)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		m, ok := raw.(map[string]any)
		if !ok {
			c.errs = append(c.errs, fmt.Errorf("%s: a layer document must be a map with a \"layer\" field, not %s", src, msgfmt.Describe(raw)))
			continue
		}
		ref, entries, errs := DecodeLayerDocument(m, c.want)
		for _, e := range errs {
			c.errs = append(c.errs, fmt.Errorf("%s: %w", src, e))
		}
		if len(errs) > 0 {
			continue
		}
		c.add(src, ref, entries)
	}
}

func (c *layerCollector) add(src string, ref config.LayerRef, entries []config.Entry) {
	l := c.layers[ref]
	if l == nil {
		l = &config.Layer{Ref: ref}
		c.layers[ref] = l
		c.origin[ref] = map[string]string{}
	}
	for _, e := range entries {
		id := e.ID()
		if prev, dup := c.origin[ref][id]; dup {
			c.errs = append(c.errs, fmt.Errorf("%s: %s: %s is already defined in %s", src, ref, config.EntryPath(e.Kind, e.Key), prev))
			continue
		}
		c.origin[ref][id] = src
		l.Entries = append(l.Entries, e)
	}
}

func (c *layerCollector) result() ([]config.Layer, error) {
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	out := make([]config.Layer, 0, len(c.layers))
	for _, l := range c.layers {
		config.SortEntries(l.Entries)
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Ref.Scope != out[j].Ref.Scope {
			return out[i].Ref.Scope < out[j].Ref.Scope
		}
		return out[i].Ref.Name < out[j].Ref.Name
	})
	return out, nil
}

// DecodeLayerDocument turns one layer document (already normalised raw data) into its layer
// reference and entries. When want is not nil the document's "layer" field may be omitted and,
// if present, must equal *want. Every problem is returned.
func DecodeLayerDocument(doc map[string]any, want *config.LayerRef) (config.LayerRef, []config.Entry, []error) {
	var errs []error
	var ref config.LayerRef
	switch lv := doc["layer"].(type) {
	case string:
		r, err := config.ParseLayerRef(lv)
		if err != nil {
			return ref, nil, []error{err}
		}
		if want != nil && r != *want {
			return ref, nil, []error{fmt.Errorf("the document is for layer %s, not %s", r, *want)}
		}
		ref = r
	case nil:
		if want == nil {
			return ref, nil, []error{errors.New("\"layer\" is required: global, env/<environment> or cluster/<name>")}
		}
		ref = *want
	default:
		return ref, nil, []error{fmt.Errorf("\"layer\" must be a string, not %s", msgfmt.Describe(lv))}
	}
	if v, ok := doc["apiVersion"]; ok && v != APIVersion {
		errs = append(errs, fmt.Errorf("apiVersion: %v is not supported (use %s)", v, APIVersion))
	}
	if v, ok := doc["kind"]; ok && v != "Layer" {
		errs = append(errs, fmt.Errorf("kind: %v is not supported (use Layer)", v))
	}
	known := map[string]bool{"calico": true}
	for _, spec := range config.Sections() {
		known[strings.Split(spec.Section, ".")[0]] = true
	}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !known[k] && !topLevelFields[k] {
			errs = append(errs, fmt.Errorf("%s: unknown field %q (fields: layer, %s)", ref, k, strings.Join(sectionNames(), ", ")))
		}
	}
	if cal, ok := doc["calico"]; ok {
		cm, isMap := cal.(map[string]any)
		if !isMap {
			errs = append(errs, fmt.Errorf("%s: calico: must be a map, not %s", ref, msgfmt.Describe(cal)))
		} else {
			for _, k := range slices.Sorted(maps.Keys(cm)) {
				if !known["calico."+k] && !isCalicoSection(k) {
					errs = append(errs, fmt.Errorf("%s: calico: unknown field %q (fields: ipPools, networkPolicies, globalNetworkPolicies, bgpConfigurations)", ref, k))
				}
			}
		}
	}
	var entries []config.Entry
	for _, spec := range config.Sections() {
		v, ok := sectionValue(doc, spec.Section)
		if !ok || v == nil {
			continue
		}
		if spec.Single {
			body, isMap := v.(map[string]any)
			if !isMap {
				errs = append(errs, fmt.Errorf("%s: %s: must be a map, not %s", ref, spec.Section, msgfmt.Describe(v)))
				continue
			}
			if spec.Kind == config.KindCluster {
				if ref.Scope != config.ScopeCluster {
					errs = append(errs, fmt.Errorf("%s: cluster: only a cluster/<name> layer holds the cluster record", ref))
					continue
				}
				if n, has := body["name"]; has && n != ref.Name {
					errs = append(errs, fmt.Errorf("%s: cluster.name: %v does not match the layer's cluster %q", ref, n, ref.Name))
					continue
				}
				body = config.DeepCopyMap(body)
				body["name"] = ref.Name
			}
			e, err := config.NewEntry(spec.Kind, body)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", ref, err))
				continue
			}
			entries = append(entries, e)
			continue
		}
		list, isList := v.([]any)
		if !isList {
			errs = append(errs, fmt.Errorf("%s: %s: must be a list, not %s", ref, spec.Section, msgfmt.Describe(v)))
			continue
		}
		for i, item := range list {
			body, isMap := item.(map[string]any)
			if !isMap {
				errs = append(errs, fmt.Errorf("%s: %s[%d]: must be a map, not %s", ref, spec.Section, i, msgfmt.Describe(item)))
				continue
			}
			e, err := config.NewEntry(spec.Kind, body)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s[%d]: %w", ref, spec.Section, i, err))
				continue
			}
			entries = append(entries, e)
		}
	}
	return ref, entries, errs
}

func isCalicoSection(k string) bool {
	for _, spec := range config.Sections() {
		if spec.Section == "calico."+k {
			return true
		}
	}
	return false
}

func sectionNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, spec := range config.Sections() {
		top := strings.Split(spec.Section, ".")[0]
		if !seen[top] {
			seen[top] = true
			out = append(out, top)
		}
	}
	return out
}

func sectionValue(doc map[string]any, section string) (any, bool) {
	parent, child, nested := strings.Cut(section, ".")
	v, ok := doc[parent]
	if !nested || !ok {
		return v, ok
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return nil, false
	}
	v, ok = m[child]
	return v, ok
}

// MarshalYAML returns the layer as a layer file (the inverse of DecodeLayerDocument): YAML
// with "layer" first and the sections in canonical order. Publishing the file again yields
// the same entries.
func MarshalYAML(l config.Layer) ([]byte, error) {
	s, err := document(l).String()
	return []byte(s), err
}

// MarshalJSON returns the layer document as MarshalYAML does, as one line of JSON.
func MarshalJSON(l config.Layer) ([]byte, error) {
	return document(l).MarshalJSON()
}

// BodyYAML returns an entry body as YAML, keys sorted, as layer files hold it.
func BodyYAML(body map[string]any) ([]byte, error) {
	s, err := yaml.NewRNode(yamlnode.ToNode(body)).String()
	return []byte(s), err
}

// document is the layer as a yaml document, ready to be written as YAML or JSON.
func document(l config.Layer) *yaml.RNode {
	doc := yaml.NewMapRNode(nil)
	_ = doc.PipeE(yaml.SetField("apiVersion", yaml.NewStringRNode(APIVersion)))
	_ = doc.PipeE(yaml.SetField("kind", yaml.NewStringRNode("Layer")))
	_ = doc.PipeE(yaml.SetField("layer", yaml.NewStringRNode(l.Ref.String())))
	entries := append([]config.Entry(nil), l.Entries...)
	config.SortEntries(entries)
	for _, spec := range config.Sections() {
		var items []*yaml.Node
		for _, e := range entries {
			if e.Kind == spec.Kind {
				items = append(items, yamlnode.ToNode(e.Body))
			}
		}
		if len(items) == 0 {
			continue
		}
		var value *yaml.Node
		if spec.Single {
			value = items[0]
		} else {
			value = &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: items}
		}
		parent, child, nested := strings.Cut(spec.Section, ".")
		target := doc
		key := parent
		if nested {
			cal, _ := doc.Pipe(yaml.LookupCreate(yaml.MappingNode, parent))
			target, key = cal, child
		}
		_ = target.PipeE(yaml.SetField(key, yaml.NewRNode(value)))
	}
	return doc
}
