package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/importer"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

type importOptions struct {
	out          string
	from         string
	clusters     []string
	records      string
	environments []string
	regions      []string
	policies     []string
	skipSecrets  bool
	contexts     []string
	kubeconfig   string
	kinds        []string
	selector     string
}

func newImportCommand(streams IOStreams, env Env) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import --out DIR (--from DIR | --cluster NAME=PATH ...) [--clusters FILE]",
		Short: "Turn a fleet's current manifests into layers, factored, and prove them identical",
		Long: `Import reads what each cluster runs today — rendered manifests per cluster (the output of
kustomize build overlays/<cluster>, or kubectl get -o yaml) — and writes layer files: objects
of the kinds the layer model knows become typed entries (namespaces with their quota and limit
range, roles and bindings, network policies, Calico kinds), anything else an extra manifest.
Entries every cluster has go to global, those every cluster of an environment has to
env/<environment>, the rest to cluster/<name>, each higher layer holding only the fields that
differ, an entry every cluster has but one is deleted in that one's layer, and a value that
differs only by the cluster's own name, region, environment or a variable of its record is
written with ${cluster.name}, ${cluster.region}, ${env} or ${vars.NAME}.

Sources: --from DIR holds one subdirectory (or one file NAME.yaml) per cluster; --cluster
NAME=PATH (repeatable) names a file or directory of one cluster's manifests (a directory
holding a kustomization is built, as kustomize build does); --context NAME=CONTEXT reads a
live cluster through a kubeconfig context: the kinds --kind names (default: those the layer
model knows), optionally only those -l selects, leaving out what the API server owns (status,
the metadata it sets, defaulted fields, the kubectl last-applied annotation) and the objects
the cluster makes itself (kube-* namespaces, system: RBAC, objects owned by another). Cluster records
(environment and region required; projects, labels, vars) come from --clusters FILE, and
--environment NAME=ENV / --region NAME=REGION set or override them.

The layers and IMPORT-REPORT.md are written into --out (a new or empty directory); nothing is
published. Then every cluster's render of the written layers (what generate does: merge,
validation, policies, render) is compared with what was imported; any difference exits 1
with the first one per cluster. Secrets are refused (or, with --skip-secrets, left out and
listed). Progress goes to stderr, the report to stdout.

Exit codes: 0 written and proven, 1 bad input or failed proof, 2 wrong command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.kubeconfig == "" {
				o.kubeconfig = defaultKubeconfig(env)
			}
			return runImport(cmd.Context(), streams, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "", "directory to write the layer files into (new or empty; required)")
	f.StringVar(&o.from, "from", "", "directory with one subdirectory or NAME.yaml file of manifests per cluster")
	f.StringArrayVar(&o.clusters, "cluster", nil, "NAME=PATH: a file or directory of one cluster's manifests (repeatable)")
	f.StringVar(&o.records, "clusters", "", "cluster records file (clusters: {NAME: {environment, region, projects, labels, vars}})")
	f.StringArrayVar(&o.environments, "environment", nil, "NAME=ENV: a cluster's environment (repeatable; overrides --clusters)")
	f.StringArrayVar(&o.regions, "region", nil, "NAME=REGION: a cluster's region (repeatable; overrides --clusters)")
	f.StringArrayVar(&o.policies, "policy", nil, "policy file the proof renders under (repeatable; default: the default policy)")
	f.BoolVar(&o.skipSecrets, "skip-secrets", false, "leave Secrets out (listed in the report) instead of refusing the import")
	f.StringArrayVar(&o.contexts, "context", nil, "NAME=CONTEXT: read cluster NAME live from this kubeconfig context (repeatable)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file of --context (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringSliceVar(&o.kinds, "kind", nil, "kinds to read live, Kind or Kind.group (default: the kinds the layer model knows)")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the objects read live (e.g. app.kubernetes.io/managed-by=platform)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// pairs parses repeated NAME=VALUE flags.
func pairs(flag string, list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, withCode(ExitUsage, fmt.Errorf("--%s %q: write NAME=VALUE", flag, kv))
		}
		if _, err := config.ParseLayerRef("cluster/" + k); err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--%s %q: %w", flag, kv, err))
		}
		if _, dup := out[k]; dup {
			return nil, withCode(ExitUsage, fmt.Errorf("--%s: cluster %s is given twice", flag, k))
		}
		out[k] = v
	}
	return out, nil
}

// importSources maps each cluster to the paths of its manifests.
func importSources(o importOptions) (map[string][]string, error) {
	sources := map[string][]string{}
	given, err := pairs("cluster", o.clusters)
	if err != nil {
		return nil, err
	}
	for name, path := range given {
		sources[name] = []string{path}
	}
	if o.from != "" {
		entries, err := os.ReadDir(o.from)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--from: %w", err))
		}
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() {
				ext := filepath.Ext(name)
				if ext != ".yaml" && ext != ".yml" && ext != ".json" {
					continue
				}
				name = strings.TrimSuffix(name, ext)
			}
			if strings.HasPrefix(name, ".") {
				continue
			}
			if _, err := config.ParseLayerRef("cluster/" + name); err != nil {
				return nil, withCode(ExitUsage, fmt.Errorf("--from %s: %s: %w", o.from, e.Name(), err))
			}
			if _, dup := sources[name]; dup {
				return nil, withCode(ExitUsage, fmt.Errorf("--from %s: cluster %s is given twice", o.from, name))
			}
			sources[name] = []string{filepath.Join(o.from, e.Name())}
		}
	}
	contexts, err := pairs("context", o.contexts)
	if err != nil {
		return nil, err
	}
	for name := range contexts {
		if _, dup := sources[name]; dup {
			return nil, withCode(ExitUsage, fmt.Errorf("--context: cluster %s has manifests already; import each cluster from one source", name))
		}
		sources[name] = nil
	}
	if len(sources) == 0 {
		return nil, withCode(ExitUsage, errors.New("no clusters to import: give --from DIR, --cluster NAME=PATH or --context NAME=CONTEXT"))
	}
	return sources, nil
}

// importRecords builds each cluster's record from --clusters and the per-cluster flags.
func importRecords(o importOptions, names []string) (map[string]config.Cluster, error) {
	records := map[string]config.Cluster{}
	if o.records != "" {
		r, err := importer.ReadRecords(o.records)
		if err != nil {
			return nil, withCode(ExitInvalid, fmt.Errorf("--clusters: %w", err))
		}
		records = r
	}
	envs, err := pairs("environment", o.environments)
	if err != nil {
		return nil, err
	}
	regions, err := pairs("region", o.regions)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	for _, m := range []map[string]string{envs, regions} {
		for n := range m {
			if !known[n] {
				return nil, withCode(ExitUsage, fmt.Errorf("cluster %s has a record but no manifests (clusters: %s)", n, strings.Join(names, ", ")))
			}
		}
	}
	var problems []string
	out := map[string]config.Cluster{}
	for _, n := range names {
		r := records[n]
		r.Name = n
		if e := envs[n]; e != "" {
			r.Environment = e
		}
		if reg := regions[n]; reg != "" {
			r.Region = reg
		}
		if r.Environment == "" || r.Region == "" {
			problems = append(problems, fmt.Sprintf("cluster %s needs an environment and a region (--clusters FILE, or --environment %s=ENV --region %s=REGION)", n, n, n))
			continue
		}
		for what, v := range map[string]string{"environment": r.Environment, "region": r.Region} {
			if _, err := config.ParseLayerRef("env/" + v); err != nil {
				problems = append(problems, fmt.Sprintf("cluster %s: %s %q is not a valid name (a DNS label)", n, what, v))
			}
		}
		out[n] = r
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, withCode(ExitUsage, errors.New(strings.Join(problems, "\n")))
	}
	return out, nil
}

func runImport(ctx context.Context, streams IOStreams, o importOptions) error {
	if entries, err := os.ReadDir(o.out); err == nil && len(entries) > 0 {
		return withCode(ExitUsage, fmt.Errorf("--out %s is not empty: import writes into a new or empty directory", o.out))
	}
	sources, err := importSources(o)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	records, err := importRecords(o, names)
	if err != nil {
		return err
	}
	policies, err := readInterruptibly(ctx, func() (policy.Set, error) { return readPolicyFiles(o.policies) })
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(streams.ErrOut, "import: "+format+"\n", args...)
	}
	contexts, _ := pairs("context", o.contexts)
	var kc *importer.Kubeconfig
	if len(contexts) > 0 {
		if kc, err = importer.LoadKubeconfig(o.kubeconfig); err != nil {
			return withCode(ExitUsage, fmt.Errorf("--kubeconfig: %w", err))
		}
	}
	var inputs []importer.ClusterInput
	var readErrs []error
	for _, n := range names {
		if ctxName, live := contexts[n]; live {
			objs, dropped, err := importer.ReadLive(ctx, n, kc, ctxName, importer.LiveOptions{Kinds: o.kinds, Selector: o.selector})
			if err != nil {
				var se *importer.StatusError
				var ue *importer.UsageError
				switch {
				case errors.As(err, &ue):
					return withCode(ExitUsage, err)
				case errors.As(err, &se) && se.Code >= 400 && se.Code < 500:
					return withCode(ExitInvalid, err)
				}
				return withCode(ExitFailed, err)
			}
			progress("cluster %s: read %d objects from context %s", n, len(objs), ctxName)
			inputs = append(inputs, importer.ClusterInput{Record: records[n], Objects: objs, Dropped: dropped})
			continue
		}
		objs, err := importer.ReadManifests(n, sources[n])
		if err != nil {
			readErrs = append(readErrs, err)
			continue
		}
		progress("cluster %s: read %d objects from %s", n, len(objs), strings.Join(sources[n], ", "))
		inputs = append(inputs, importer.ClusterInput{Record: records[n], Objects: objs})
	}
	if len(readErrs) > 0 {
		return withCode(ExitInvalid, errors.Join(readErrs...))
	}
	if err := ctx.Err(); err != nil {
		return withCode(ExitFailed, fmt.Errorf("import was interrupted: %w", context.Cause(ctx)))
	}
	return importAndProve(streams, o, inputs, policies, progress)
}

// importAndProve maps, factors, writes and proves; the report goes to stdout.
func importAndProve(streams IOStreams, o importOptions, inputs []importer.ClusterInput, policies policy.Set, progress func(string, ...any)) error {
	res, err := importer.Import(inputs, importer.Options{SkipSecrets: o.skipSecrets, Progress: progress})
	if err != nil {
		var ie *importer.InputError
		if errors.As(err, &ie) {
			return withCode(ExitInvalid, fmt.Errorf("the input has %d %s:\n%w", len(ie.Problems), plural(len(ie.Problems), "problem", "problems"), err))
		}
		return withCode(ExitInvalid, err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return withCode(ExitInvalid, fmt.Errorf("--out: %w", err))
	}
	if err := res.Write(o.out); err != nil {
		return withCode(ExitInvalid, err)
	}
	progress("wrote %d layer files into %s; proving every cluster's render", len(res.Layers), o.out)
	proof := res.Prove(o.out, policies)
	if err := res.WriteReport(o.out, proof); err != nil {
		return withCode(ExitInvalid, err)
	}
	if proof != nil {
		return withCode(ExitInvalid, fmt.Errorf("%w\n(the layers and %s are in %s for inspection; do not publish them)", proof, importer.ReportFile, o.out))
	}
	_, err = fmt.Fprint(streams.Out, res.Report.String())
	progress("proven: every cluster's render equals what was imported; publish with dynamo-cmp config publish -f %s/<layer file> --layer <layer>", o.out)
	return err
}

// defaultKubeconfig is kubectl's: the first file of $KUBECONFIG, else ~/.kube/config.
func defaultKubeconfig(env Env) string {
	if k := env.Get("KUBECONFIG"); k != "" {
		return filepath.SplitList(k)[0]
	}
	if h := env.Get("HOME"); h != "" {
		return filepath.Join(h, ".kube", "config")
	}
	return ""
}
