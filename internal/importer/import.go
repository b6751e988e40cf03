package importer

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// ClusterInput is one cluster to import: its record and its objects.
type ClusterInput struct {
	// Record is the cluster record written to its layer (name, environment, region required).
	Record config.Cluster
	// Objects are what the cluster runs, as read from files or its API server.
	Objects []Object
	// Dropped lists what was left out of live objects because the API server owns it (for
	// the report), by kind of field: "status" → 12 ...
	Dropped map[string]int
}

// Options tune an import.
type Options struct {
	// SkipSecrets leaves Secrets out (listed in the report) instead of refusing the import.
	SkipSecrets bool
	// Progress, when set, is told what import is doing (never object bodies).
	Progress func(format string, args ...any)
}

// Result is an import: the layers to write and what to report.
type Result struct {
	Layers []config.Layer
	Report Report
	// want holds, per cluster, the objects the layers must render (Calico sync option added).
	want map[string][]Object
}

// Report says what an import did.
type Report struct {
	Clusters []ClusterReport
	// Layers counts the entries of each layer by entry kind ("global" → namespace → 3).
	Layers map[string]map[string]int
	// Overrides counts, per layer, the entries that only change fields of a lower layer's, or
	// delete it.
	Overrides map[string]int
	// Shared, PerEnv and PerCluster count the entries written once for every cluster, once
	// per environment, and in each cluster's own layer.
	Shared, PerEnv, PerCluster int
	// Variables counts the global and env entries written with variables (${cluster.name},
	// ${cluster.region}, ${env}, ${vars.<name>}).
	Variables int
	// Replaced counts overrides written whole ($patch: replace) because no smaller one
	// merges back to the cluster's value.
	Replaced int
	// Deletions counts entries written in a lower layer for every cluster (or every cluster of
	// an environment) but one, and deleted ($patch: delete) in that one cluster's layer.
	Deletions int
	// Typed and Manifests count the objects mapped onto typed entries and extra manifests.
	Typed, Manifests int
	// LeftOut lists the objects not imported, each with its cluster, source and reason.
	LeftOut []string
	// CalicoSyncOption counts the Calico objects that gain dynamo-cmp's sync option.
	CalicoSyncOption int
	// Warnings are things to act on before publishing.
	Warnings []string
	// Proof is what Prove found: nil when every cluster renders what was imported.
	Proof error
}

// ClusterReport is one cluster's line of the report.
type ClusterReport struct {
	Name, Environment, Region string
	Objects                   int
	Dropped                   map[string]int
}

// Import maps and factors the clusters' objects into layers. Bad input (an object without a
// name, a Secret, a namespaced kind without a namespace, two clusters disagreeing on an
// object's identity ...) is an *InputError naming every problem.
func Import(clusters []ClusterInput, opts Options) (*Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if len(clusters) == 0 {
		return nil, errors.New("no clusters to import")
	}
	res := &Result{want: map[string][]Object{}, Report: Report{Layers: map[string]map[string]int{}, Overrides: map[string]int{}}}
	var problems []string
	var infos []clusterInfo
	entries := map[string][]mapped{}
	seenCluster := map[string]bool{}
	rc := renderCheck{}
	for _, ci := range clusters {
		rec := ci.Record
		if seenCluster[rec.Name] {
			problems = append(problems, fmt.Sprintf("cluster %s is given twice", rec.Name))
			continue
		}
		seenCluster[rec.Name] = true
		info := clusterInfo{name: rec.Name, env: rec.Environment, v: newVars(rec)}
		infos = append(infos, info)
		var keep []Object
		seen := map[string]Object{}
		for _, o := range ci.Objects {
			msg, skip := checkObject(o, opts.SkipSecrets)
			if skip {
				res.Report.LeftOut = append(res.Report.LeftOut, fmt.Sprintf("cluster %s: %s: %s: %s", o.Cluster, o.Source, o.Ref(), secretRefused))
				continue
			}
			if msg != "" {
				problems = append(problems, fmt.Sprintf("%s: %s", o.where(), msg))
				continue
			}
			if prev, dup := seen[o.identity()]; dup {
				problems = append(problems, fmt.Sprintf("%s: defined again (first in %s)", o.where(), prev.Source))
				continue
			}
			seen[o.identity()] = o
			keep = append(keep, o)
		}
		if len(problems) > 0 {
			continue
		}
		progress("cluster %s: mapping %d objects", rec.Name, len(keep))
		m, err := mapCluster(rec, keep, rc)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				problems = append(problems, ie.Problems...)
				continue
			}
			return nil, err
		}
		entries[rec.Name] = m
		for _, x := range m {
			if x.entry.Kind == config.KindManifest {
				res.Report.Manifests += len(x.objects)
			} else {
				res.Report.Typed += len(x.objects)
			}
		}
		for _, o := range keep {
			if strings.HasPrefix(o.APIVersion(), "projectcalico.org/") && !reflect.DeepEqual(wanted(o), o.Body) {
				res.Report.CalicoSyncOption++
			}
		}
		res.want[rec.Name] = keep
		res.Report.Clusters = append(res.Report.Clusters, ClusterReport{Name: rec.Name, Environment: rec.Environment, Region: rec.Region, Objects: len(keep), Dropped: ci.Dropped})
		if len(rec.Projects) == 0 {
			res.Report.Warnings = append(res.Report.Warnings, fmt.Sprintf("cluster %s: the record lists no Argo CD projects, so no Application may render it (add projects to the cluster records file)", rec.Name))
		}
	}
	if len(problems) > 0 {
		return nil, &InputError{Problems: problems}
	}
	progress("factoring %d clusters", len(infos))
	groups, err := groupEntries(infos, entries)
	if err != nil {
		return nil, err
	}
	p, err := factor(infos, groups)
	if err != nil {
		return nil, err
	}
	for _, ci := range clusters {
		body := map[string]any{"name": ci.Record.Name, "environment": ci.Record.Environment, "region": ci.Record.Region}
		if len(ci.Record.Projects) > 0 {
			body["projects"] = toAnyList(ci.Record.Projects)
		}
		if len(ci.Record.Labels) > 0 {
			body["labels"] = toAnyMap(ci.Record.Labels)
		}
		if len(ci.Record.Vars) > 0 {
			body["vars"] = toAnyMap(ci.Record.Vars)
		}
		if err := p.add(config.ClusterLayer(ci.Record.Name), config.KindCluster, body); err != nil {
			return nil, err
		}
	}
	for _, ref := range sortedRefs(p.layers) {
		l := config.Layer{Ref: ref, Entries: p.layers[ref]}
		config.SortEntries(l.Entries)
		res.Layers = append(res.Layers, l)
		counts := map[string]int{}
		for _, e := range l.Entries {
			if e.Kind != config.KindCluster {
				counts[e.Kind]++
			}
		}
		res.Report.Layers[ref.String()] = counts
		if n := p.overrides[ref]; n > 0 {
			res.Report.Overrides[ref.String()] = n
		}
	}
	res.Report.Shared, res.Report.PerEnv, res.Report.PerCluster, res.Report.Replaced, res.Report.Variables = p.shared, p.perEnv, p.perCluster, p.replaced, p.variables
	res.Report.Deletions = p.deletions
	sort.Slice(res.Report.Clusters, func(i, j int) bool { return res.Report.Clusters[i].Name < res.Report.Clusters[j].Name })
	return res, nil
}

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// FileName is where a layer is written, relative to the output directory: global.yaml,
// env/<environment>.yaml, cluster/<name>.yaml.
func FileName(ref config.LayerRef) string {
	switch ref.Scope {
	case config.ScopeEnv:
		return filepath.Join("env", ref.Name+".yaml")
	case config.ScopeCluster:
		return filepath.Join("cluster", ref.Name+".yaml")
	default:
		return "global.yaml"
	}
}

// ReportFile is the name of the report written beside the layers (not a layer file: render
// and publish read *.yaml, *.yml and *.json only).
const ReportFile = "IMPORT-REPORT.md"

// Write writes the layers (one file each) and the report into dir, which must not exist or
// be empty. It publishes nothing.
func (r *Result) Write(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: import writes into a new or empty directory", dir)
	}
	for _, l := range r.Layers {
		data, err := layerfile.MarshalYAML(l)
		if err != nil {
			return fmt.Errorf("write %s: %w", l.Ref, err)
		}
		text := string(data)
		path := filepath.Join(dir, FileName(l.Ref))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		head := fmt.Sprintf("# Written by dynamo-cmp import. Publish with: dynamo-cmp config publish -f %s --layer %s\n", FileName(l.Ref), l.Ref)
		if err := os.WriteFile(path, []byte(head+text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteReport writes the report beside the layers; proof is the result of Prove.
func (r *Result) WriteReport(dir string, proof error) error {
	r.Report.Proof = proof
	return os.WriteFile(filepath.Join(dir, ReportFile), []byte(r.Report.String()), 0o644)
}

// Difference is the first difference the proof found for a cluster.
type Difference struct {
	Cluster string
	What    string
}

// ProofError lists the clusters whose render differs from what was imported.
type ProofError struct{ Differences []Difference }

func (e *ProofError) Error() string {
	lines := []string{"the written layers do not render what was imported:"}
	for _, d := range e.Differences {
		lines = append(lines, fmt.Sprintf("  cluster %s: %s", d.Cluster, d.What))
	}
	return strings.Join(lines, "\n")
}

// Prove reads the layer files back from dir and renders every imported cluster through the
// pipeline generate uses (merge, validate, policies, render); each must give exactly the
// imported objects (canonical JSON; Calico objects with dynamo-cmp's sync option). A render
// that fails, or differs, is reported per cluster (the first difference).
func (r *Result) Prove(dir string, policies policy.Set) error {
	all, err := layerfile.ReadLayerFiles([]string{dir})
	if err != nil {
		return fmt.Errorf("reading the written layers back: %w", err)
	}
	var diffs []Difference
	for _, name := range slices.Sorted(maps.Keys(r.want)) {
		layers, err := config.SelectLayers(all, name, "")
		if err != nil {
			diffs = append(diffs, Difference{name, err.Error()})
			continue
		}
		out, err := ops.Render(layers, name, policies, render.Options{Format: render.FormatJSON}, nil)
		if err != nil {
			msg := "does not render: " + oneParagraph(err)
			if len(policies) == 0 && strings.Contains(msg, "default policy") {
				msg += " (the proof renders under the default policy unless --policy FILE gives the policies the table will hold)"
			}
			diffs = append(diffs, Difference{name, msg})
			continue
		}
		got, err := parseJSONStream(out.Bytes())
		if err != nil {
			diffs = append(diffs, Difference{name, "unreadable render: " + err.Error()})
			continue
		}
		if d := firstDifference(r.want[name], got); d != "" {
			diffs = append(diffs, Difference{name, d})
		}
	}
	if len(diffs) > 0 {
		return &ProofError{Differences: diffs}
	}
	return nil
}

func oneParagraph(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// firstDifference compares imported objects with rendered ones by identity, then field by
// field; it names the object and the field path, never values.
func firstDifference(want []Object, got []map[string]any) string {
	gotBy := map[string]map[string]any{}
	for _, g := range got {
		o := Object{Body: g}
		gotBy[o.identity()] = g
	}
	sorted := append([]Object(nil), want...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].identity() < sorted[j].identity() })
	for _, o := range sorted {
		g, ok := gotBy[o.identity()]
		if !ok {
			return fmt.Sprintf("%s (%s) is not rendered", o.Ref(), o.Source)
		}
		if p := firstPath(wanted(o), g, ""); p != "" {
			return fmt.Sprintf("%s (%s) differs at %s", o.Ref(), o.Source, p)
		}
		delete(gotBy, o.identity())
	}
	for _, id := range slices.Sorted(maps.Keys(gotBy)) {
		o := Object{Body: gotBy[id]}
		return fmt.Sprintf("%s is rendered but was not imported", o.Ref())
	}
	return ""
}

// firstPath returns the path of the first difference between a and b ("" when equal).
func firstPath(a, b any, path string) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if p := firstPath(am[k], bm[k], join(path, k)); p != "" {
				return p
			}
		}
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			if p := firstPath(al[i], bl[i], fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	if path == "" {
		return "(the whole object)"
	}
	return path
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
