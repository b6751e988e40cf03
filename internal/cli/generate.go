package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/ops"
	"github.com/dynamo-cmp/dynamo-cmp/internal/plugin"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/internal/traceid"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// DefaultGenerateTimeout keeps generate well inside Argo CD's 60 s repo-server deadline.
const DefaultGenerateTimeout = 30 * time.Second

// generateFlags are generate's flags (the plugin parameters come from the environment).
type generateFlags struct {
	store  storeOptions
	output string
}

func newGenerateCommand(streams IOStreams, env Env) *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Render a cluster's manifests for Argo CD (the plugin's generate command)",
		Long: `Generate is what argocd-cmp-server runs. It reads the Application's plugin parameters
(ARGOCD_APP_PARAMETERS, or PARAM_*; then ARGOCD_ENV_CLUSTER, ARGOCD_ENV_ENVIRONMENT,
ARGOCD_ENV_CONFIG_VERSION, ARGOCD_ENV_COMPONENTS), reads the cluster's layers from DynamoDB,
merges, validates and renders them, and writes the whole stream to stdout at once.

Any failure exits non-zero with nothing on stdout and one paragraph on stderr (Argo CD shows
it in its UI). Set DYNAMO_CMP_LOG_LEVEL=info for a JSON line per step on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerate(cmd.Context(), streams, env, f)
		},
	}
	f.store.addFlags(cmd.Flags(), env, DefaultGenerateTimeout)
	cmd.Flags().StringVarP(&f.output, "output", "o", render.FormatJSON, "output format: json (one object per line) or yaml")
	return cmd
}

// generateFailure is the one paragraph Argo CD shows when generate fails.
type generateFailure struct {
	code    int
	cluster string
	version string
	reason  string
	hint    string
	trace   string
}

func (f *generateFailure) Error() string {
	var b strings.Builder
	b.WriteString("dynamo-cmp could not render")
	if f.cluster != "" {
		fmt.Fprintf(&b, " cluster %q", f.cluster)
	}
	if f.version != "" {
		fmt.Fprintf(&b, " (configVersion %s)", f.version)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimSuffix(f.reason, "."))
	b.WriteString(".")
	if f.hint != "" {
		b.WriteString(" ")
		b.WriteString(strings.TrimSuffix(f.hint, "."))
		b.WriteString(".")
	}
	text := b.String()
	if len(text) > maxFailureText {
		text = strings.ToValidUTF8(text[:maxFailureText], "") + "…"
	}
	// One paragraph, whatever the parts carry.
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(text) + " [trace " + f.trace + "]"
}

// maxFailureText bounds generate's failure paragraph (before the trace id).
const maxFailureText = 4 << 10

func runGenerate(ctx context.Context, streams IOStreams, env Env, flags generateFlags) error {
	so, output := flags.store, flags.output
	if err := checkFormat(output); err != nil {
		return err
	}
	tuneGC(env)
	trace := traceid.New()
	log := newStepLogger(streams.ErrOut, logLevel(env), trace)
	fail := func(f *generateFailure) error {
		f.trace = trace
		log.log.Error("generate failed", "step", trace+"-generate-e99", "error", f.reason)
		fmt.Fprintln(streams.ErrOut, f.Error())
		return withCode(f.code, errReported)
	}

	req, err := plugin.ParseRequest(env)
	if err != nil {
		return fail(&generateFailure{code: ExitInvalid, cluster: req.Cluster, reason: "the Application's plugin parameters are invalid: " + err.Error(),
			hint: "Fix spec.source.plugin.parameters of the Application (or its ApplicationSet template)"})
	}
	cfg, err := so.config(env)
	if err != nil {
		return fail(&generateFailure{code: ExitUsage, cluster: req.Cluster, version: req.VersionString(), reason: err.Error(),
			hint: "Fix the sidecar's environment (DYNAMO_CMP_TABLE, DYNAMO_CMP_TIMEOUT)"})
	}
	ctx, cancel := context.WithTimeout(ctx, so.timeout)
	defer cancel()

	st, err := store.New(ctx, cfg)
	if err != nil {
		return fail(&generateFailure{code: ExitFailed, cluster: req.Cluster, version: req.VersionString(), reason: err.Error(),
			hint: "Check the sidecar's AWS settings (AWS_REGION, credentials, DYNAMO_CMP_TABLE)"})
	}
	read, err := st.ReadCluster(ctx, store.ClusterRequest{Cluster: req.Cluster, Environment: req.Environment, Version: req.Version, Policies: true})
	if err != nil {
		return fail(storeFailure(err, req, so.timeout))
	}
	version := read.Version.String()
	log.step("dynamodb-e10", "config pull", "cluster", req.Cluster, "environment", read.Environment, "configVersion", version, "roundTrips", read.RoundTrips)

	// A cluster layer without a record (left by a console edit) authorises nobody; say what is
	// missing rather than refuse the project. It names nothing of the configuration.
	if config.RecordOf(read.Layers[len(read.Layers)-1].Entries) == nil {
		return fail(invalidFailure(fmt.Errorf("%w for %q: the cluster/%s layer must hold a cluster record (environment, region, projects)", config.ErrNoClusterRecord, req.Cluster, req.Cluster), req, version))
	}
	// Before anything of the configuration is validated or shown: read.Cluster is the record
	// as config decodes it (config.RecordOf), the record the model renders, and read.Current
	// the record of the cluster layer's head. Both must allow the project, so that pinning a
	// version published before a project was removed does not bring it back.
	if err := checkProject(req.Project, read.Cluster, read.Current); err != nil {
		return fail(&generateFailure{code: ExitInvalid, cluster: req.Cluster, version: version, reason: err.Error(),
			hint: "Render it from an Application of a project the cluster record allows, or add the project to the cluster record's projects (cluster/" + req.Cluster + ") and publish it"})
	}

	layers := read.Layers
	read.Layers = nil // ops.Render lets the raw items go once the model is resolved
	out, err := ops.Render(layers, req.Cluster, read.Policies, render.Options{Components: req.Components, Format: output}, func(stage string, args ...any) {
		log.step(generateSteps[stage], stage, args...)
	})
	if err != nil {
		return fail(invalidFailure(err, req, version))
	}
	if _, err := out.WriteTo(streams.Out); err != nil {
		return fail(&generateFailure{code: ExitFailed, cluster: req.Cluster, version: version, reason: "writing the manifests failed: " + err.Error()})
	}
	log.step("emit-e40", "emit", "objects", out.Len())
	return nil
}

// generateSteps names the step ids of ops.Render's stages in generate's log.
var generateSteps = map[string]string{"merge": "merge-e20", "validate": "validate-e25", "render": "render-e30"}

// checkProject refuses an Application whose Argo CD project one of the given cluster records
// does not allow: every record must list the project in its projects, and a record that
// lists none allows no project. generate and parameters both ask it before they show anything
// of the cluster. The refusal names the project, never the projects that are allowed: it is
// shown to whoever can view the Application.
func checkProject(project string, records ...config.Cluster) error {
	for _, c := range records {
		if project == "" || !slices.Contains(c.Projects, project) {
			return projectRefused(project)
		}
	}
	return nil
}

// projectRefused is checkProject's refusal.
func projectRefused(project string) error {
	p := "(none: ARGOCD_APP_PROJECT_NAME is not set)"
	if project != "" {
		p = fmt.Sprintf("%q", project)
	}
	//lint:ignore ST1005 "Argo CD" is a proper noun; the message is documented in operations.md
	return fmt.Errorf("Argo CD project %s may not render this cluster", p)
}

// storeFailure explains a failed DynamoDB read.
func storeFailure(err error, req plugin.Request, timeout time.Duration) *generateFailure {
	f := &generateFailure{code: exitCode(err), cluster: req.Cluster, version: req.VersionString(), reason: err.Error()}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		f.reason = fmt.Sprintf("reading DynamoDB did not finish within the %s deadline (%v)", timeout, err)
		f.hint = "Argo CD retries at the next refresh; if this persists check the sidecar's network path to DynamoDB (VPC endpoint, proxy) or raise DYNAMO_CMP_TIMEOUT (keep it under Argo CD's 60 s)"
	case errors.Is(err, store.ErrTableNotFound):
		f.hint = "Create the table (dynamo-cmp table create) or point the sidecar at the right one with DYNAMO_CMP_TABLE and AWS_REGION"
	case errors.Is(err, store.ErrNotFound) && req.Version != nil:
		f.hint = "The pinned configVersion names a version that does not exist; use the configVersion the dynamo-cmp ApplicationSet generator serves, or \"latest\""
	case errors.Is(err, store.ErrNotFound):
		f.hint = "Check the Application's cluster parameter, or publish the cluster's layer first (dynamo-cmp config publish --layer cluster/" + req.Cluster + ")"
	case errors.Is(err, store.ErrCredentials):
		f.hint = "Check the sidecar's AWS credentials: the IRSA role annotation and the role's trust policy, or the EKS Pod Identity association (docs/install.md)"
	case errors.Is(err, store.ErrAccessDenied):
		f.hint = "Attach the read-only policy of manifests/iam to the sidecar's IAM role (IRSA or EKS Pod Identity)"
	case errors.Is(err, store.ErrThrottled):
		f.hint = "DynamoDB kept throttling after the retries; Argo CD retries at the next refresh. Check the table's capacity (on-demand is recommended)"
	case errors.Is(err, store.ErrInvalidItem):
		f.hint = "An item of a published version was edited by hand; published versions never change: restore the item, or roll the layer back (dynamo-cmp config rollback) and make changes as drafts or a new publish"
	case errors.Is(err, store.ErrWrongEnvironment):
		f.hint = "Remove the Application's environment parameter (the cluster record's is used) or correct it"
	case errors.Is(err, config.ErrNoClusterRecord):
		f.hint = "Publish the cluster's layer with its cluster record (environment, region)"
	case errors.Is(err, store.ErrUnavailable):
		f.hint = "Argo CD retries at the next refresh; check the sidecar's network access to DynamoDB"
	}
	return f
}

// invalidFailure explains a configuration that does not merge, validate or render.
func invalidFailure(err error, req plugin.Request, version string) *generateFailure {
	f := &generateFailure{code: ExitInvalid, cluster: req.Cluster, version: version, reason: err.Error(),
		hint: "Fix the layer named in each problem and publish it again, or roll it back (dynamo-cmp config rollback)"}
	var ve *config.ValidationError
	switch {
	case errors.As(err, &ve):
		count, problems := problemList(ve, "; ", 5, func(rest int) string {
			return fmt.Sprintf("and %d more (dynamo-cmp config validate --cluster %s lists them all)", rest, req.Cluster)
		})
		f.reason = fmt.Sprintf("the configuration is invalid (%s): %s", count, problems)
	case errors.Is(err, render.ErrNoObjects):
		f.reason = err.Error() + "; an empty stream would make Argo CD prune every object of the Application, so nothing is returned"
		f.hint = "Check the components parameter and the cluster's layers"
	case errors.Is(err, config.ErrNoClusterRecord):
		f.hint = "Publish the cluster's layer with its cluster record (environment, region)"
	}
	return f
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
