package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/msgfmt"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/internal/yamlnode"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/validate"

	"sigs.k8s.io/kustomize/api/filters/patchjson6902"
	"sigs.k8s.io/kustomize/api/filters/patchstrategicmerge"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Annotations dynamo-cmp sets.
const (
	// SyncOptionsAnnotation is Argo CD's per-object sync options annotation.
	SyncOptionsAnnotation = "argocd.argoproj.io/sync-options"
	// SkipDryRunOption lets Argo CD sync Calico objects before the Calico CRDs exist.
	SkipDryRunOption = "SkipDryRunOnMissingResource=true"
)

// Options select what is rendered and how.
//
// Nothing that changes with every published version is written on the objects: Argo CD
// diffs and re-applies every object whose bytes change, so an object's bytes depend only on
// the entries that render it (and the settings and variables they use). The version a
// cluster runs is carried by its Application (the configVersion parameter).
type Options struct {
	// Components limits rendering to these components; empty renders all.
	Components []string
	// Format is the output format: FormatJSON (default) or FormatYAML.
	Format string
	// Checker, when set, is shown every object rendered (after the patches; the objects of
	// the components selected); a render it finds problems in fails with them all.
	Checker Checker
}

// Checker judges rendered objects (the policy of what a layer may render).
type Checker interface {
	// Check is shown each object.
	Check(obj Value)
	// Problems is asked once every object was shown.
	Problems() []config.FieldError
}

// checkFilter shows each object to a Checker.
type checkFilter struct{ c Checker }

var _ kio.Filter = checkFilter{}

func (f checkFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	for _, n := range nodes {
		f.c.Check(Value{n.YNode()})
	}
	return nodes, nil
}

// ErrNoObjects is returned when a render produces nothing: an empty stream would make Argo CD
// prune every object of the Application.
var ErrNoObjects = errors.New("the configuration renders no objects")

// Manifests is a rendered, sorted and encoded manifest stream, held in memory.
type Manifests struct {
	buf   []byte
	items []item // in stream order
	sep   string
	data  []byte // the joined stream, built on first use by Bytes
}

// Bytes returns the whole stream.
func (m *Manifests) Bytes() []byte {
	if m.data == nil {
		m.data = make([]byte, 0, len(m.buf)+len(m.items)*len(m.sep))
		for i, it := range m.items {
			if i > 0 {
				m.data = append(m.data, m.sep...)
			}
			m.data = append(m.data, m.buf[it.start:it.end]...)
		}
	}
	return m.data
}

// Len returns the number of objects in the stream.
func (m *Manifests) Len() int { return len(m.items) }

// Size returns the length of the stream in bytes.
func (m *Manifests) Size() int {
	n := len(m.items) * len(m.sep)
	for _, it := range m.items {
		n += it.end - it.start
	}
	if n > 0 && len(m.sep) > 0 {
		n -= len(m.sep)
	}
	return n
}

// WriteTo writes the stream to w in large chunks without first joining it in memory. The
// stream is complete before the first byte is written.
func (m *Manifests) WriteTo(w io.Writer) (int64, error) {
	if m.data != nil {
		n, err := w.Write(m.data)
		return int64(n), err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var n int64
	for i, it := range m.items {
		if i > 0 {
			k, err := bw.WriteString(m.sep)
			n += int64(k)
			if err != nil {
				return n, err
			}
		}
		k, err := bw.Write(m.buf[it.start:it.end])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// Render builds the objects of a model and encodes them as one sorted stream. Each object
// goes through the pipeline on its own — generator, cross-cutting filters (common metadata,
// patches, Calico sync options), encoder — so memory stays proportional to the
// encoded output, not to the object trees. Any failure returns no stream at all.
func Render(m *config.Model, opts Options) (*Manifests, error) {
	selected := map[string]bool{}
	for _, c := range opts.Components {
		if !slices.Contains(Components, c) {
			return nil, fmt.Errorf("unknown component %q (components: %s)", c, strings.Join(Components, ", "))
		}
		selected[c] = true
	}
	enc, err := newEncoder(opts.Format)
	if err != nil {
		return nil, err
	}
	p := &pipeline{enc: enc}
	p.filters = []kio.Filter{commonMetadata{labels: pairs(m.Settings.CommonLabels), annotations: pairs(m.Settings.CommonAnnotations)}}
	for i := range m.Patches {
		pf := &patchFilter{patch: &m.Patches[i]}
		p.patches = append(p.patches, pf)
		p.filters = append(p.filters, pf)
	}
	if opts.Checker != nil {
		p.filters = append(p.filters, checkFilter{opts.Checker})
	}
	p.filters = append(p.filters, calicoSyncOptions{})
	// A patch's target is checked against the full render, so that splitting a cluster's
	// Applications by component never turns a valid patch into an error. With components
	// selected and patches present, the other components are still built and patched — their
	// objects count as matches and their patch errors are reported as in a full render — but
	// they are not encoded.
	checkOthers := len(selected) > 0 && len(p.patches) > 0
	b := &builder{}
	for _, g := range generators {
		emit := len(selected) == 0 || selected[g.component]
		if !emit && !checkOthers {
			continue
		}
		p.discard = !emit
		g.build(b, m, p)
		if p.err != nil {
			return nil, p.err
		}
	}
	for _, pf := range p.patches {
		if pf.matched == 0 {
			return nil, pf.patch.Problem("target", "%s matches no rendered object", pf.describeTarget())
		}
	}
	if opts.Checker != nil {
		if problems := opts.Checker.Problems(); len(problems) > 0 {
			return nil, &config.ValidationError{Problems: problems}
		}
	}
	if len(p.items) == 0 {
		if len(selected) > 0 {
			return nil, fmt.Errorf("%w for components %s", ErrNoObjects, strings.Join(opts.Components, ", "))
		}
		return nil, ErrNoObjects
	}
	return p.finish(), nil
}

// pipeline runs each generated object through the filters and encodes it.
type pipeline struct {
	filters []kio.Filter
	patches []*patchFilter
	// discard runs objects through the filters up to the patches and drops them: the objects
	// of components that are not selected, which patches must still see.
	discard bool
	enc     encoder
	buf     []byte
	items   []item
	err     error
}

// item is one encoded object: its sort key and its bytes in pipeline.buf.
type item struct {
	key        string
	start, end int
}

func (p *pipeline) add(n *yaml.Node) {
	if p.err != nil {
		return
	}
	nodes := []*yaml.RNode{yaml.NewRNode(n)}
	filters := p.filters
	if p.discard {
		filters = filters[:1+len(p.patches)] // common metadata and the patches
	}
	for _, f := range filters {
		var err error
		if nodes, err = f.Filter(nodes); err != nil {
			p.err = err
			return
		}
	}
	if p.discard {
		return
	}
	for _, rn := range nodes {
		// Grow the buffer by doubling: append grows large slices by only about a quarter,
		// which makes a large render copy its output many times over.
		if cap(p.buf)-len(p.buf) < 16<<10 {
			grown := make([]byte, len(p.buf), 2*cap(p.buf)+64<<10)
			copy(grown, p.buf)
			p.buf = grown
		}
		start := len(p.buf)
		var err error
		if p.buf, err = p.enc.encode(p.buf, rn.YNode()); err != nil {
			p.err = fmt.Errorf("encoding %s: %w", identity(rn), err)
			return
		}
		p.items = append(p.items, item{key: keyOf(rn.YNode()), start: start, end: len(p.buf)})
	}
}

// finish sorts the encoded objects: Namespaces first, then cluster-scoped objects by kind and
// name, then namespaced objects by namespace, kind and name.
func (p *pipeline) finish() *Manifests {
	slices.SortStableFunc(p.items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	for i := range p.items {
		p.items[i].key = "" // the keys are done with; let them go
	}
	return &Manifests{buf: p.buf, items: p.items, sep: p.enc.separator()}
}

// keyOf returns an object's sort key: its class (0 Namespace, 1 cluster-scoped, 2 namespaced),
// namespace, kind, name and apiVersion, joined so that comparing keys compares those fields in
// that order.
func keyOf(y *yaml.Node) string {
	md := lookup(y, "metadata")
	kind, apiVersion := value(lookup(y, "kind")), value(lookup(y, "apiVersion"))
	name, namespace := value(lookup(md, "name")), value(lookup(md, "namespace"))
	class := "2"
	switch {
	case kind == "Namespace" && apiVersion == "v1":
		class = "0"
	case namespace == "":
		class = "1"
	}
	return class + "\x00" + namespace + "\x00" + kind + "\x00" + name + "\x00" + apiVersion
}

// commonMetadata adds the settings' common labels and annotations to every object; an
// object's own value for a key wins.
type commonMetadata struct {
	labels, annotations []pair
}

var _ kio.Filter = commonMetadata{}

func (f commonMetadata) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if len(f.labels)+len(f.annotations) == 0 {
		return nodes, nil
	}
	for _, n := range nodes {
		md := metadata(n)
		mergePairs(md, "labels", f.labels, false)
		mergePairs(md, "annotations", f.annotations, false)
	}
	return nodes, nil
}

// calicoSyncOptions lets Argo CD skip the dry run of Calico objects whose CRDs are not
// installed yet, keeping any sync options already set.
type calicoSyncOptions struct{}

var _ kio.Filter = calicoSyncOptions{}

func (calicoSyncOptions) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	for _, n := range nodes {
		if av := lookup(n.YNode(), "apiVersion"); av == nil || !strings.HasPrefix(av.Value, "projectcalico.org/") {
			continue
		}
		md := metadata(n)
		value := SkipDryRunOption
		if cur := lookup(lookup(md, "annotations"), SyncOptionsAnnotation); cur != nil && cur.Value != "" {
			if strings.Contains(cur.Value, "SkipDryRunOnMissingResource=") {
				continue
			}
			value = cur.Value + "," + SkipDryRunOption
		}
		mergePairs(md, "annotations", []pair{{str(SyncOptionsAnnotation), str(value)}}, true)
	}
	return nodes, nil
}

// metadata returns an object's metadata mapping, creating it if needed.
func metadata(n *yaml.RNode) *yaml.Node {
	y := n.YNode()
	md := lookup(y, "metadata")
	if md == nil {
		md = emptyMap()
		y.Content = append(y.Content, str("metadata"), md)
	}
	return md
}

// patchFilter applies one configured patch to the objects its target selects, with
// kustomize's strategic-merge and JSON 6902 filters. It counts the objects it matched, so
// that a patch whose target matches nothing is reported instead of silently ignored.
type patchFilter struct {
	patch   *config.Patch
	apply   kio.Filter
	matched int
}

var _ kio.Filter = &patchFilter{}

func (f *patchFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	if f.apply == nil {
		if f.patch.StrategicMerge != nil {
			f.apply = patchstrategicmerge.Filter{Patch: yaml.NewRNode(yamlnode.ToNode(f.patch.StrategicMerge))}
		} else {
			ops, err := yaml.NewRNode(jsonPatchNode(f.patch.JSON6902)).MarshalJSON()
			if err != nil {
				return nil, f.patch.Problem(f.patch.OpsField(), "%v", err)
			}
			f.apply = patchjson6902.Filter{Patch: string(ops)}
		}
	}
	out := nodes[:0:0]
	for _, n := range nodes {
		if !f.matches(n) {
			out = append(out, n)
			continue
		}
		f.matched++
		before := identity(n)
		// Generated objects share their scalar nodes; patch a private copy.
		res, err := f.apply.Filter([]*yaml.RNode{n.Copy()})
		if err != nil {
			return nil, f.patch.Problem(f.patch.OpsField(), "applying to %s: %v", before, err)
		}
		if len(res) == 0 {
			continue // a strategic-merge "$patch: delete" removes the object
		}
		if err := f.check(n, res[0], before); err != nil {
			return nil, err
		}
		out = append(out, res[0])
	}
	return out, nil
}

// check refuses a patched object that is not the object it was, or that validation would
// refuse had it been written directly: kind, name, namespace and apiVersion stay, and the
// result passes the checks of an extra manifest (refused kinds, namespace rules, metadata).
func (f *patchFilter) check(orig, patched *yaml.RNode, before string) error {
	field := f.patch.OpsField()
	if after := identity(patched); after != before {
		return f.patch.Problem(field, "must not change the identity of %s (it became %s)", before, after)
	}
	if was, is := value(lookup(orig.YNode(), "apiVersion")), value(lookup(patched.YNode(), "apiVersion")); was != is {
		return f.patch.Problem(field, "must not change the apiVersion of %s (%s became %s)", before, quoteShort(was), quoteShort(is))
	}
	obj, err := patched.Map()
	if err != nil {
		return f.patch.Problem(field, "makes %s unreadable: %v", before, err)
	}
	if problems := validate.CheckPatched(obj); len(problems) > 0 {
		return f.patch.Problem(field, "makes %s invalid: %s", before, strings.Join(problems, "; "))
	}
	return nil
}

// quoteShort shows a value taken from a patched object in a message: as it is when it is
// made of the characters an apiVersion is made of, quoted and shortened otherwise.
func quoteShort(s string) string {
	if len(s) <= 80 && s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./-") == "" {
		return s
	}
	return strconv.Quote(msgfmt.Truncate(s, 80))
}

func (f *patchFilter) matches(n *yaml.RNode) bool {
	t := f.patch.Target
	y := n.YNode()
	if kind := lookup(y, "kind"); kind == nil || kind.Value != t.Kind {
		return false
	}
	md := lookup(y, "metadata")
	if t.Name != "" {
		if name := lookup(md, "name"); name == nil || name.Value != t.Name {
			return false
		}
	}
	if t.Namespace != "" {
		if ns := lookup(md, "namespace"); ns == nil || ns.Value != t.Namespace {
			return false
		}
	}
	if t.Group != "" {
		av := lookup(y, "apiVersion")
		if av == nil || !strings.HasPrefix(av.Value, t.Group+"/") {
			return false
		}
	}
	return true
}

func (f *patchFilter) describeTarget() string {
	t := f.patch.Target
	s := "kind " + t.Kind
	if t.Group != "" {
		s += " group " + t.Group
	}
	if t.Namespace != "" {
		s += " namespace " + t.Namespace
	}
	if t.Name != "" {
		s += " name " + t.Name
	}
	return s
}

func jsonPatchNode(ops []config.JSONPatchOp) *yaml.Node {
	b := &builder{}
	items := make([]*yaml.Node, len(ops))
	for i, op := range ops {
		m := b.mapping(4).str("op", op.Op).str("path", op.Path).str("from", op.From)
		if op.Op == "add" || op.Op == "replace" || op.Op == "test" {
			m.set("value", yamlnode.ToNode(op.Value))
		}
		items[i] = m.n
	}
	return b.sequence(items)
}

// identity names an object as "Kind namespace/name".
func identity(n *yaml.RNode) string {
	y := n.YNode()
	kind, md := lookup(y, "kind"), lookup(y, "metadata")
	name, ns := lookup(md, "name"), lookup(md, "namespace")
	s := ""
	if kind != nil {
		s = kind.Value
	}
	if ns != nil && ns.Value != "" {
		s += " " + ns.Value + "/"
	} else {
		s += " "
	}
	if name != nil {
		s += name.Value
	}
	return s
}

func value(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}
