package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/policy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// policyPutFlags are policy put's flags.
type policyPutFlags struct {
	file   string
	actor  string
	dryRun bool
}

// policyGetFlags are policy get's flags.
type policyGetFlags struct {
	name   string
	output string
}

// policyDeleteFlags are policy delete's flags.
type policyDeleteFlags struct {
	name   string
	actor  string
	dryRun bool
}

func newPolicyCommand(streams IOStreams, env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage the policies: what each layer may render",
		Long: `A policy applies to the layers it lists ("global", "env/*", "cluster/team-a-*", "*") and
says which kinds, namespaces and cluster-scoped objects they may render, which roles they may
bind to which system subjects, and, for add-on Applications on the hub, which Argo CD
projects, destinations and source repositories they may use. A layer no policy lists gets the
default policy. publish, generate, render and config validate refuse what a layer's policy
forbids. See docs/security.md for the format and the default policy.`,
	}

	po := &operator{streams: streams, env: env}
	var pf policyPutFlags
	put := &cobra.Command{
		Use:   "put -f FILE",
		Short: "Store a policy (YAML or JSON), replacing the one of the same name",
		Long: `Put reads a policy from FILE ("-": standard input), checks it strictly (an unknown field or
a bad pattern is refused with exit 1, naming the field; nothing is stored), lists the
clusters whose served configuration (or layer heads) would no longer render under it, and
stores it, recording who stored it in the policy audit (dynamo-cmp policy history). A
stricter policy takes effect at once: generate refuses what it forbids. With --dry-run
nothing is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return po.runPolicyPut(cmd.Context(), pf)
		},
	}
	put.Flags().StringVarP(&pf.file, "file", "f", "", "policy file, YAML or JSON (required; - for standard input)")
	put.Flags().StringVar(&pf.actor, "actor", "", "who: recorded with the policy and in its audit (default: the AWS caller identity)")
	put.Flags().BoolVar(&pf.dryRun, "dry-run", false, "check the policy and list the clusters it would stop from rendering; store nothing")
	po.addFlags(put)

	gro := &operator{streams: streams, env: env}
	var gf policyGetFlags
	get := &cobra.Command{
		Use:   "get NAME [-o yaml|json]",
		Short: "Print a stored policy (in the format policy put reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gf.name = args[0]
			return gro.runPolicyGet(cmd.Context(), gf)
		},
	}
	get.Flags().StringVarP(&gf.output, "output", "o", "yaml", "yaml or json")
	gro.addFlags(get)

	lo := &operator{streams: streams, env: env}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policies and the layers they apply to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lo.runPolicyList(cmd.Context())
		},
	}
	lo.addFlags(list)

	do := &operator{streams: streams, env: env}
	var df policyDeleteFlags
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a policy (its layers get the next closest policy, or the default policy)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			df.name = args[0]
			return do.runPolicyDelete(cmd.Context(), df)
		},
	}
	del.Flags().StringVar(&df.actor, "actor", "", "who: recorded in the policy audit (default: the AWS caller identity)")
	del.Flags().BoolVar(&df.dryRun, "dry-run", false, "list the clusters the deletion would stop from rendering; delete nothing")
	do.addFlags(del)

	ho := &operator{streams: streams, env: env}
	var limit int
	history := &cobra.Command{
		Use:   "history",
		Short: "List the changes of policies: who stored, replaced or deleted which policy when",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ho.runPolicyHistory(cmd.Context(), limit)
		},
	}
	history.Flags().IntVar(&limit, "limit", 20, "show at most this many changes (0: all)")
	ho.addFlags(history)

	cmd.AddCommand(put, get, list, del, history)
	return cmd
}

// runPolicyPut checks a policy, says what it would stop from rendering, and stores it.
func (o *operator) runPolicyPut(ctx context.Context, f policyPutFlags) error {
	var data []byte
	var err error
	switch f.file {
	case "":
		return withCode(ExitUsage, fmt.Errorf("-f is required: the policy file (YAML or JSON)"))
	case "-":
		data, err = io.ReadAll(o.streams.In)
	default:
		data, err = os.ReadFile(f.file)
	}
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("read the policy: %w", err))
	}
	p, err := policy.Parse(data)
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("%s: %w; nothing was stored", f.file, err))
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Policies(ctx)
		if err != nil {
			return storeError(err)
		}
		before := store.PolicySet(stored)
		after := slices.DeleteFunc(slices.Clone(before), func(x policy.Policy) bool { return x.Name == p.Name })
		replaced := len(after) < len(before)
		after = append(after, p)
		if err := o.reportPolicyImpact(ctx, st, before, after, f.dryRun); err != nil {
			return err
		}
		verb := "stored"
		if replaced {
			verb = "replaced"
		}
		if f.dryRun {
			fmt.Fprintf(o.streams.Out, "dry run: policy %s would be %s for %s; nothing was stored\n", p.Name, verb, strings.Join(p.Layers, ", "))
			return nil
		}
		if err := st.PutPolicy(ctx, p, o.actor(ctx, st, f.actor), replaced); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(o.streams.Out, "%s policy %s for %s\n", verb, p.Name, strings.Join(p.Layers, ", "))
		return nil
	})
}

// reportPolicyImpact lists the clusters a policy change stops from rendering, on stderr.
func (o *operator) reportPolicyImpact(ctx context.Context, st *store.Store, before, after policy.Set, dryRun bool) error {
	problems, checked, err := ops.PolicyImpact(ctx, st, before, after)
	if err != nil {
		return storeError(err)
	}
	if len(problems) == 0 {
		fmt.Fprintf(o.streams.Out, "checked %d %s: every one that renders today still renders\n", checked, plural(checked, "cluster", "clusters"))
		return nil
	}
	broken := map[string]bool{}
	for _, p := range problems {
		broken[p.Cluster] = true
	}
	will := "no longer render"
	if dryRun {
		will = "would no longer render"
	}
	fmt.Fprintf(o.streams.ErrOut, "warning: %d of the %d clusters %s (generate refuses them until their layers or the policy change):\n", len(broken), checked, will)
	for _, p := range problems {
		fmt.Fprintf(o.streams.ErrOut, "cluster %s, served %s:\n", p.Cluster, p.Served)
		for _, line := range strings.Split(p.Err.Error(), "\n") {
			fmt.Fprintln(o.streams.ErrOut, "  "+line)
		}
	}
	return nil
}

// runPolicyGet prints one policy.
func (o *operator) runPolicyGet(ctx context.Context, f policyGetFlags) error {
	if err := checkFormat(f.output); err != nil {
		return err
	}
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Policies(ctx)
		if err != nil {
			return storeError(err)
		}
		i := slices.IndexFunc(stored, func(x store.StoredPolicy) bool { return x.Name == f.name })
		if i < 0 {
			return withCode(ExitInvalid, noPolicy(f.name, stored))
		}
		p := stored[i]
		if f.output == "json" {
			enc := json.NewEncoder(o.streams.Out)
			enc.SetIndent("", "  ")
			return enc.Encode(p.Policy)
		}
		out, err := yaml.Marshal(p.Policy)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.streams.Out, "# stored %s by %s\n%s", stamp(p.At), cell(p.Actor), out)
		return nil
	})
}

// runPolicyList prints the policies as a table.
func (o *operator) runPolicyList(ctx context.Context) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Policies(ctx)
		if err != nil {
			return storeError(err)
		}
		if len(stored) == 0 {
			fmt.Fprintln(o.streams.Out, "no policies: every layer gets the default policy (docs/security.md; store one with: dynamo-cmp policy put -f FILE)")
			return nil
		}
		tw := newTable(o.streams.Out, "NAME", "LAYERS", "ALLOWS", "UPDATED", "BY", "CALLER")
		for _, p := range stored {
			tw.row(p.Name, strings.Join(p.Layers, ", "), policySummary(p.Policy), p.At.UTC().Format(time.RFC3339), p.Actor, callerCell(p.CallerArn))
		}
		return tw.flush()
	})
}

// runPolicyDelete deletes a policy; exit 1 when there is none of that name.
func (o *operator) runPolicyDelete(ctx context.Context, f policyDeleteFlags) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		stored, err := st.Policies(ctx)
		if err != nil {
			return storeError(err)
		}
		if !slices.ContainsFunc(stored, func(x store.StoredPolicy) bool { return x.Name == f.name }) {
			return withCode(ExitInvalid, noPolicy(f.name, stored))
		}
		before := store.PolicySet(stored)
		after := slices.DeleteFunc(slices.Clone(before), func(x policy.Policy) bool { return x.Name == f.name })
		if err := o.reportPolicyImpact(ctx, st, before, after, f.dryRun); err != nil {
			return err
		}
		if f.dryRun {
			fmt.Fprintf(o.streams.Out, "dry run: policy %s would be deleted; nothing was changed\n", f.name)
			return nil
		}
		found, err := st.DeletePolicy(ctx, f.name, o.actor(ctx, st, f.actor))
		if err != nil {
			return storeError(err)
		}
		if !found {
			return withCode(ExitInvalid, noPolicy(f.name, nil))
		}
		fmt.Fprintf(o.streams.Out, "deleted policy %s\n", f.name)
		return nil
	})
}

// runPolicyHistory prints the policy audit.
func (o *operator) runPolicyHistory(ctx context.Context, limit int) error {
	return o.withStore(ctx, func(ctx context.Context, st *store.Store) error {
		changes, err := st.PolicyHistory(ctx, limit)
		if err != nil {
			return storeError(err)
		}
		if len(changes) == 0 {
			fmt.Fprintln(o.streams.Out, "no policy was ever stored")
			return nil
		}
		tw := newTable(o.streams.Out, "AT", "POLICY", "ACTION", "ACTOR", "CALLER", "LAYERS")
		for _, c := range changes {
			layers := "-"
			if c.Policy != nil {
				layers = strings.Join(c.Policy.Layers, ", ")
			}
			tw.row(c.At.UTC().Format(time.RFC3339), c.Name, c.Action, c.Actor, callerCell(c.CallerArn), layers)
		}
		return tw.flush()
	})
}

func noPolicy(name string, stored []store.StoredPolicy) error {
	if len(stored) == 0 {
		return fmt.Errorf("no policy %q: the table has no policies", name)
	}
	names := make([]string, len(stored))
	for i, p := range stored {
		names[i] = p.Name
	}
	return fmt.Errorf("no policy %q: the table has %s", name, strings.Join(names, ", "))
}

// policySummary is one line about what a policy sets: "kinds 3, namespaces team-a-*, addons
// projects team-a".
func policySummary(p policy.Policy) string {
	var parts []string
	list := func(field string, l []string) {
		if len(l) > 0 {
			parts = append(parts, field+" "+strings.Join(l, " "))
		}
	}
	list("kinds", p.Kinds)
	list("namespaces", p.Namespaces)
	list("clusterScoped", p.ClusterScoped)
	if r := p.RBAC; r != nil {
		list("rbac.roles", r.Roles)
		list("rbac.subjects", r.Subjects)
	}
	if a := p.Addons; a != nil {
		list("addons.projects", a.Projects)
		if len(a.Destinations) > 0 {
			parts = append(parts, fmt.Sprintf("addons.destinations %d", len(a.Destinations)))
		}
		list("addons.sourceRepos", a.SourceRepos)
	}
	if len(parts) == 0 {
		return "the default policy's rules"
	}
	return strings.Join(parts, "; ")
}
