package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// String renders the report as Markdown (it is written to IMPORT-REPORT.md and printed).
func (r Report) String() string {
	var b strings.Builder
	b.WriteString("# dynamo-cmp import report\n\n## Clusters\n\n| cluster | environment | region | objects imported |\n| --- | --- | --- | --- |\n")
	for _, c := range r.Clusters {
		fmt.Fprintf(&b, "| %s | %s | %s | %d |\n", c.Name, c.Environment, c.Region, c.Objects)
	}
	fmt.Fprintf(&b, "\n%d objects became typed entries, %d extra manifests (`manifests:`).\n", r.Typed, r.Manifests)

	b.WriteString("\n## Entries per layer\n\n| layer | entries | of which overrides | by kind |\n| --- | --- | --- | --- |\n")
	refs := make([]config.LayerRef, 0, len(r.Layers))
	for name := range r.Layers {
		ref, err := config.ParseLayerRef(name)
		if err == nil {
			refs = append(refs, ref)
		}
	}
	config.SortLayerRefs(refs, func(r config.LayerRef) config.LayerRef { return r })
	for _, ref := range refs {
		counts := r.Layers[ref.String()]
		total := 0
		var kinds []string
		for _, k := range config.Kinds() {
			if n := counts[k]; n > 0 {
				total += n
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", ref, total, r.Overrides[ref.String()], strings.Join(kinds, ", "))
	}

	b.WriteString("\n## Factoring\n\n")
	fmt.Fprintf(&b, "- entries the same in every cluster (up to `${cluster.name}`, `${cluster.region}`, `${env}`, `${vars.*}`), written once in `global`: %d;\n", r.Shared)
	fmt.Fprintf(&b, "- entries in every cluster of an environment only, written in `env/<environment>`: %d;\n", r.PerEnv)
	if r.Deletions > 0 {
		fmt.Fprintf(&b, "- entries every cluster has but one (of the fleet, or of an environment of three clusters or more), written once above and deleted (`$patch: delete`) in that cluster's layer: %d;\n", r.Deletions)
	}
	fmt.Fprintf(&b, "- entries of one cluster, or of some clusters only, written whole in each one's layer: %d;\n", r.PerCluster)
	fmt.Fprintf(&b, "- entries of global and env layers written with variables (`${cluster.name}`, `${cluster.region}`, `${env}`, `${vars.*}`), where the clusters' values differ only by them: %d;\n", r.Variables)
	b.WriteString("- the overrides above carry only the fields that differ from the layer below (`key: null` removes a key, a keyed list carries `{$patch: replace}`)")
	if r.Replaced > 0 {
		fmt.Fprintf(&b, "; %d are written whole with `$patch: replace`", r.Replaced)
	}
	b.WriteString(".\n")

	b.WriteString("\n## Left out, and changed\n\n")
	if len(r.LeftOut) == 0 {
		b.WriteString("- No object was left out.\n")
	}
	for _, l := range r.LeftOut {
		fmt.Fprintf(&b, "- left out: %s\n", l)
	}
	b.WriteString("- Null values are not written (the API server treats them as absent).\n")
	if r.CalicoSyncOption > 0 {
		fmt.Fprintf(&b, "- %d Calico objects gain the annotation `argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true`, which dynamo-cmp sets on every Calico object.\n", r.CalicoSyncOption)
	}
	for _, c := range r.Clusters {
		if len(c.Dropped) == 0 {
			continue
		}
		keys := make([]string, 0, len(c.Dropped))
		for k := range c.Dropped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s (%d)", k, c.Dropped[k])
		}
		fmt.Fprintf(&b, "- cluster %s: fields the API server owns were dropped: %s.\n", c.Name, strings.Join(parts, ", "))
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n## Before publishing\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	b.WriteString("\n## Proof\n\n")
	if r.Proof == nil {
		b.WriteString("Every cluster's render of these layers (merge, validation, policies, render: what generate does) was compared with what was imported, as canonical JSON: equal.\n")
	} else {
		fmt.Fprintf(&b, "FAILED — do not publish these layers:\n\n```\n%v\n```\n", r.Proof)
	}
	return b.String()
}
