package e2e

// Differential test of dynamo-cmp's validation against the real kube-apiserver (issue 10 §3).
// Each case of the corpus in testdata/differential is a piece of a cluster layer. dynamo-cmp
// (the binary, `render`) either accepts it — then every object it renders is server-side
// applied as a strict dry run and the API server must accept them all — or refuses it — then
// the object dynamo-cmp would have rendered, written out in the case, is dry-run instead, and
// the API server must refuse it too, unless the case is marked "stricter": a rule where
// dynamo-cmp deliberately refuses more than the API server, which docs/config.md must name.
// A case marked "looser" is a known gap the other way, named in docs/config.md too: dynamo-cmp
// accepts it and the API server must refuse it (so the case is revisited when either changes).
//
// The failure this test exists for: dynamo-cmp accepting what the API server rejects, which
// turns a successful `config publish` into a failed Argo CD sync.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

// differentialCase is one case of the corpus.
type differentialCase struct {
	Name string `json:"name"`
	// Want is accept (both accept), reject (both refuse), stricter (dynamo-cmp refuses, the
	// API server accepts, and docs/config.md says so) or looser (dynamo-cmp accepts, the API
	// server refuses, and docs/config.md says so).
	Want string `json:"want"`
	// Layer holds entries of the cluster layer (namespaces:, roles:, calico: ...).
	Layer string `json:"layer"`
	// Object is what dynamo-cmp would render for the refused entry: reject and stricter cases.
	Object string `json:"object,omitempty"`
	// Doc is a phrase of docs/config.md's validation section that documents a stricter rule
	// or a looser one.
	Doc string `json:"doc,omitempty"`
}

const differentialHead = "layer: cluster/diff\ncluster: {environment: dev, region: eu-west-1}\n"

// differentialNamespace exists for real before the cases run: the namespace of objects that
// a case does not render a Namespace for.
const differentialNamespace = "diff"

func TestDifferentialValidation(t *testing.T) {
	t.Parallel()
	cases := loadDifferentialCases(t)
	docs, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	kube := harness.StartKubeAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": differentialNamespace}}}
	if err := harness.ApplyErrors(kube.Apply(ctx, []*unstructured.Unstructured{ns}, false)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	counts := map[string]int{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			counts[c.Want]++
			file := filepath.Join(dir, c.Name+".yaml")
			if err := os.WriteFile(file, []byte(differentialHead+c.Layer), 0o600); err != nil {
				t.Fatal(err)
			}
			// The policy lifts every refusal of the default policy: the corpus is about the API
			// server's rules (internal/policy has the policy's own tests).
			out, errOut, err := harness.RunDynamoCmp(t, nil, "render", "-f", file, "--cluster", "diff", "-o", "json",
				"--policy", filepath.Join("testdata", "differential-policy.yaml"))
			accepted := err == nil
			var exit *exec.ExitError
			if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
				t.Fatalf("dynamo-cmp render: %v (want exit 0 or 1)\n%s", err, errOut)
			}
			switch {
			case (c.Want == "accept" || c.Want == "looser") && !accepted:
				t.Fatalf("dynamo-cmp refuses a case the corpus marks %q:\n%s", c.Want, errOut)
			case c.Want != "accept" && c.Want != "looser" && accepted:
				objs, _ := harness.ParseManifests(out)
				t.Fatalf("dynamo-cmp accepts a case the corpus marks %q (it rendered %d objects)", c.Want, len(objs))
			}
			if accepted && c.Want == "looser" {
				if c.Doc == "" || !strings.Contains(string(docs), c.Doc) {
					t.Fatalf("a looser rule must be documented: docs/config.md does not contain %q", c.Doc)
				}
				err := serverVerdict(ctx, t, kube, out)
				if err == nil {
					t.Fatal("the API server accepts a case marked looser: mark it accept and drop its paragraph from docs/config.md")
				}
				t.Logf("kube-apiserver: %v", err)
				return
			}
			if accepted {
				if err := serverVerdict(ctx, t, kube, out); err != nil {
					t.Fatalf("dynamo-cmp accepts what the API server rejects:\n%v", err)
				}
				return
			}
			t.Logf("dynamo-cmp: %s", strings.TrimSpace(errOut))
			objs, err := harness.ParseManifests(c.Object)
			if err != nil || len(objs) == 0 {
				t.Fatalf("case %s: object: want the object dynamo-cmp would render (%v)", c.Name, err)
			}
			serverErr := harness.ApplyErrors(kube.Apply(ctx, objs, true))
			switch {
			case c.Want == "reject" && serverErr == nil:
				t.Fatalf("the API server accepts what dynamo-cmp refuses: mark the case stricter and document the rule in docs/config.md, or relax the rule")
			case c.Want == "reject":
				t.Logf("kube-apiserver: %v", serverErr)
			case c.Want == "stricter" && serverErr != nil:
				t.Fatalf("a case marked stricter is refused by the API server too (mark it reject): %v", serverErr)
			case c.Want == "stricter" && (c.Doc == "" || !strings.Contains(string(docs), c.Doc)):
				t.Fatalf("a stricter rule must be documented: docs/config.md does not contain %q", c.Doc)
			}
		})
	}
	t.Logf("%d cases: %d accepted by both, %d refused by both, %d refused by dynamo-cmp only (documented as stricter), %d by the API server only (documented as looser)",
		len(cases), counts["accept"], counts["reject"], counts["stricter"], counts["looser"])
}

// serverVerdict applies the Namespaces of a rendered stream for real (the dry run of a
// namespaced object needs its Namespace to exist) and dry-runs every object: it returns the API
// server's refusals, nil when it takes them all.
func serverVerdict(ctx context.Context, t *testing.T, kube *harness.KubeAPI, stream string) error {
	t.Helper()
	objs, err := harness.ParseManifests(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("dynamo-cmp accepted the case but rendered nothing")
	}
	var namespaces []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetAPIVersion() == "v1" && o.GetKind() == "Namespace" {
			namespaces = append(namespaces, o)
		}
	}
	if err := harness.ApplyErrors(kube.Apply(ctx, namespaces, false)); err != nil {
		return err
	}
	return harness.ApplyErrors(kube.Apply(ctx, objs, true))
}

// loadDifferentialCases reads every testdata/differential/*.yaml, each a stream of cases.
func loadDifferentialCases(t *testing.T) []differentialCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "differential", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/differential (%v)", err)
	}
	var cases []differentialCase
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var c differentialCase
			if err := sigsyaml.UnmarshalStrict([]byte(doc), &c); err != nil {
				t.Fatalf("%s: case %d: %v", f, i, err)
			}
			switch {
			case c.Name == "" || seen[c.Name]:
				t.Fatalf("%s: case %d: a unique name is required (%q)", f, i, c.Name)
			case !slices.Contains([]string{"accept", "reject", "stricter", "looser"}, c.Want):
				t.Fatalf("%s: case %s: want is accept, reject, stricter or looser, not %q", f, c.Name, c.Want)
			case c.Want != "accept" && c.Want != "looser" && c.Object == "":
				t.Fatalf("%s: case %s: a refused case needs the object dynamo-cmp would render", f, c.Name)
			case (c.Want == "stricter" || c.Want == "looser") && c.Doc == "":
				t.Fatalf("%s: case %s: a %s case needs doc: the phrase of docs/config.md that documents it", f, c.Name, c.Want)
			}
			seen[c.Name] = true
			cases = append(cases, c)
		}
	}
	return cases
}
