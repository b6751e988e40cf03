package e2e

// The product end to end: dynamo-cmp published to DynamoDB Local, rendered by the real
// argocd-cmp-server running in the product image as the repo-server's sidecar (podman: uid
// 999, read-only root, /tmp the only writable path) through Argo CD's own repo-server code
// path, and applied to a real kube-apiserver with strict server-side apply.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

const (
	table   = "dynamo-cmp-e2e"
	cluster = "dev-k3s"
	project = "platform"
)

// product is one DynamoDB Local with the example layers published, and the real
// argocd-cmp-server running the image's plugin.yaml and binary in the sidecar container.
type product struct {
	db     *harness.DynamoDB
	env    []string // the sidecar's environment
	socket string
}

func startProduct(t *testing.T) *product {
	t.Helper()
	img := harness.BuildImage(t)
	db := harness.StartDynamoDB(t)
	p := &product{db: db, env: db.Env(table)}
	p.cli(t, "table", "create")
	for _, layer := range []string{"global", "env/dev", "cluster/" + cluster} {
		p.cli(t, "config", "publish", "-f", harness.RepoRoot(t)+"/examples/layers/"+layer+".yaml", "--layer", layer, "-m", "e2e", "--actor", "e2e")
	}
	p.socket = harness.StartCMPSidecar(t, img, p.env).SocketDir
	// Argo CD names the socket after plugin.yaml, and an Application's plugin.name picks the
	// socket: plugin.yaml has no spec.version (Argo CD 4.0 drops it), so the name must stay
	// dynamo-cmp-v1 on the Argo CD version under test.
	if entries, err := os.ReadDir(p.socket); err != nil || len(entries) != 1 || entries[0].Name() != harness.ProductPluginName+".sock" {
		t.Fatalf("argocd-cmp-server (Argo CD %s) made %v in its socket directory (%v), want only %s.sock", harness.ArgoCDVersion(), entries, err, harness.ProductPluginName)
	}
	return p
}

// cli runs a dynamo-cmp command as an operator would and fails the test if it fails.
func (p *product) cli(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := harness.RunDynamoCmp(t, p.env, args...)
	if err != nil {
		t.Fatalf("dynamo-cmp %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// generate asks Argo CD's repo-server code path for the manifests of an Application whose
// source passes the cluster the way an ApplicationSet template does (cluster: '{{.name}}').
func (p *product) generate(t *testing.T, version string, tracking bool) ([]string, error) {
	t.Helper()
	params := []harness.Param{harness.StringParam("cluster", cluster)}
	if version != "" {
		params = append(params, harness.StringParam("configVersion", version))
	}
	return harness.Generate(t, p.socket, harness.GenerateRequest{
		AppName: cluster + "-bootstrap", Project: project, Namespace: "default",
		Params: params, NoTracking: !tracking,
	})
}

func TestPluginEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := startProduct(t)
	kube := harness.StartKubeAPIServer(t)
	// The cluster running Argo CD has its namespace; the add-on Applications go there.
	if _, err := kube.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd", Labels: map[string]string{"team": "platform"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var v1Stream []string
	t.Run("generate through argocd-cmp-server", func(t *testing.T) {
		manifests, err := p.generate(t, "", false)
		if err != nil {
			t.Fatalf("Argo CD's GenerateManifests: %v", err)
		}
		want := strings.Split(strings.TrimSpace(p.cli(t, "config", "render", "--cluster", cluster, "-o", "json")), "\n")
		if len(manifests) != 22 || len(manifests) != len(want) {
			t.Fatalf("Argo CD got %d manifests, config render %d (want 22)", len(manifests), len(want))
		}
		for i := range want {
			if !sameJSON(t, manifests[i], want[i]) {
				t.Errorf("manifest %d differs:\nargo: %s\nwant: %s", i, manifests[i], want[i])
			}
		}
		for _, name := range []string{"dev-quota", "dev-role", "dev-role-binding", "dev-ippool", "allow-dev-traffic", "restrict-traffic"} {
			if !containsObject(manifests, name) {
				t.Errorf("the seed's object %s is missing", name)
			}
		}
		if v1Stream, err = p.generate(t, "g1.e1.c1", true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("parameter announcements", func(t *testing.T) {
		anns, err := harness.ParameterAnnouncements(t, p.socket, harness.GenerateRequest{
			AppName: cluster + "-bootstrap", Project: project, Params: []harness.Param{harness.StringParam("cluster", cluster)},
		})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]int{}
		for i, a := range anns {
			byName[a.Name] = i
		}
		for _, name := range []string{"cluster", "environment", "configVersion", "components", "publishedConfigVersion", "publishedLayers"} {
			if _, ok := byName[name]; !ok {
				t.Errorf("no announcement for %q (got %v)", name, byName)
			}
		}
		if a := anns[byName["cluster"]]; !a.Required || a.Title == "" || a.Tooltip == "" {
			t.Errorf("cluster announcement: %+v", a)
		}
		if a := anns[byName["publishedConfigVersion"]]; a.String_ != "g1.e1.c1" {
			t.Errorf("published configVersion announced as %q, want g1.e1.c1", a.String_)
		}
		// Argo CD names no project when it asks for parameters, and dev-k3s is limited to
		// projects: the versions are announced, who published them and why are withheld
		// (docs/security.md).
		if a := anns[byName["publishedLayers"]]; !strings.Contains(a.Map["cluster/dev-k3s"], "version 1") || strings.Contains(a.Map["cluster/dev-k3s"], "by e2e") || !strings.Contains(a.Tooltip, "withheld") {
			t.Errorf("published layers announced as %v (tooltip %q)", a.Map, a.Tooltip)
		}
	})

	t.Run("strict server-side apply, twice", func(t *testing.T) {
		results, err := kube.ApplyManifests(ctx, v1Stream, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.ApplyErrors(results); err != nil {
			t.Fatalf("the API server refused objects: %v", err)
		}
		again, err := kube.ApplyManifests(ctx, v1Stream, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.ApplyErrors(again); err != nil {
			t.Fatal(err)
		}
		for i := range results {
			if results[i].ResourceVersion != again[i].ResourceVersion {
				t.Errorf("%s changed on the second apply (resourceVersion %s → %s)", results[i].Ref(), results[i].ResourceVersion, again[i].ResourceVersion)
			}
		}
	})

	t.Run("publish, then dry-run the new configVersion", func(t *testing.T) {
		layer := strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1)
		file := t.TempDir() + "/dev.yaml"
		writeFile(t, file, layer)
		p.cli(t, "config", "publish", "-f", file, "--layer", "env/dev", "-m", "more cpu for dev-team", "--actor", "e2e")
		list := p.cli(t, "clusters", "list", "-o", "json")
		var clusters []struct{ Cluster, ConfigVersion string }
		if err := json.Unmarshal([]byte(list), &clusters); err != nil || len(clusters) != 1 || clusters[0].ConfigVersion != "g1.e2.c1" {
			t.Fatalf("clusters list: %s (%v)", list, err)
		}
		v2Stream, err := p.generate(t, "g1.e2.c1", true)
		if err != nil {
			t.Fatal(err)
		}
		dry, err := kube.ApplyManifests(ctx, v2Stream, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.ApplyErrors(dry); err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, r := range dry {
			live, err := kube.Get(ctx, r.Object.GetAPIVersion(), r.Object.GetKind(), r.Object.GetNamespace(), r.Object.GetName())
			if err != nil {
				t.Fatalf("%s: %v", r.Ref(), err)
			}
			if got, ok := r.Live.GetAnnotations()["dynamo-cmp.io/config-version"]; ok {
				t.Errorf("%s: stamped with config-version %q: a stamp that changes with every publish changes every object", r.Ref(), got)
			}
			a, b := comparable(live), comparable(r.Live)
			if reflect.DeepEqual(a, b) {
				continue
			}
			changed++
			if r.Ref() != "ResourceQuota dev-team/dev-quota" {
				t.Errorf("unexpected change to %s:\nlive: %v\ndry:  %v", r.Ref(), a, b)
				continue
			}
			cpu, _, _ := unstructured.NestedString(r.Live.Object, "spec", "hard", "cpu")
			if cpu != "6" {
				t.Errorf("dev-quota cpu after the dry run: %q, want 6", cpu)
			}
		}
		if changed != 1 {
			t.Errorf("%d objects change, want exactly 1 (the quota)", changed)
		}

		again, err := p.generate(t, "g1.e1.c1", true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(again, "\n") != strings.Join(v1Stream, "\n") {
			t.Error("the old pinned configVersion no longer renders the old stream byte for byte")
		}
	})

	t.Run("failures reach Argo CD with our message and no manifests", func(t *testing.T) {
		t.Run("unknown cluster", func(t *testing.T) {
			manifests, err := harness.Generate(t, p.socket, harness.GenerateRequest{AppName: "ghost", Project: project,
				Params: []harness.Param{harness.StringParam("cluster", "ghost-cluster")}})
			assertArgoFailure(t, manifests, err, `dynamo-cmp could not render cluster "ghost-cluster"`, "not registered")
		})
		t.Run("invalid draft refused, console edit of a published version caught", func(t *testing.T) {
			api := p.dynamo(t)
			// An operator drafts an invalid quota in the console: drafts publish refuses it.
			putItem(t, api, map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "cluster#" + cluster}, "sk": &types.AttributeValueMemberS{Value: "draft#namespace#payments"},
				"namespace":     &types.AttributeValueMemberS{Value: "payments"},
				"resourceQuota": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"cpu": &types.AttributeValueMemberS{Value: "lots"}}},
			})
			out, errOut, err := harness.RunDynamoCmp(t, p.env, "config", "drafts", "publish", "--layer", "cluster/"+cluster)
			if err == nil || !strings.Contains(errOut, `"lots" is not a quantity`) {
				t.Fatalf("drafts publish of an invalid draft: %v\n%s%s", err, out, errOut)
			}
			// Someone edits the published version's item itself: generate refuses to render a
			// version that is not what was published (and validated).
			_, err = api.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName: aws.String(table),
				Key: map[string]types.AttributeValue{
					"pk": &types.AttributeValueMemberS{Value: "cluster#" + cluster},
					"sk": &types.AttributeValueMemberS{Value: "v#0000000001#namespace#payments"},
				},
				UpdateExpression:          aws.String("SET resourceQuota.hard.cpu = :v"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "lots"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			manifests, err := p.generate(t, "", false)
			assertArgoFailure(t, manifests, err, `could not render cluster "dev-k3s" (configVersion latest)`,
				"version 1 of layer cluster/dev-k3s was changed after it was published", "restore the item, or roll the layer back")
			if strings.Contains(err.Error(), "lots") {
				t.Errorf("the edited value reached Argo CD: %v", err)
			}
		})
		t.Run("DynamoDB stopped", func(t *testing.T) {
			p.db.Stop()
			manifests, err := p.generate(t, "", false)
			assertArgoFailure(t, manifests, err, "cannot reach DynamoDB")
		})
	})
}

// assertArgoFailure checks what Argo CD gets from a failed generate: an error carrying our
// one-paragraph message (with a trace id, without AWS request ids) and no manifests.
func assertArgoFailure(t *testing.T, manifests []string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("generate succeeded with %d manifests; want a failure", len(manifests))
	}
	if len(manifests) != 0 {
		t.Errorf("a failed generate returned %d manifests", len(manifests))
	}
	msg := err.Error()
	for _, w := range append(want, "[trace ") {
		if !strings.Contains(msg, w) {
			t.Errorf("Argo CD's error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Contains(msg, "RequestID") {
		t.Errorf("an AWS request id reached Argo CD: %s", msg)
	}
}

// dynamo returns a raw DynamoDB client on the product's DynamoDB Local, for console-like edits.
func (p *product) dynamo(t *testing.T) *dynamodb.Client {
	t.Helper()
	return dynamodb.New(dynamodb.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(p.db.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("e2e", "e2e", ""),
	})
}

func putItem(t *testing.T, api *dynamodb.Client, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := api.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

// comparable strips what the API server manages, leaving what the configuration decides.
func comparable(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	for _, f := range []string{"resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	return c.Object
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(x, y)
}

func containsObject(manifests []string, name string) bool {
	for _, m := range manifests {
		if strings.Contains(m, fmt.Sprintf(`"name":%q`, name)) {
			return true
		}
	}
	return false
}

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	data, err := os.ReadFile(harness.RepoRoot(t) + "/" + rel)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
