package e2e

// make demo-argocd: the loop for a newcomer (skipped unless DYNAMO_CMP_DEMO=1).

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

func TestDemoArgoCD(t *testing.T) {
	if os.Getenv("DYNAMO_CMP_DEMO") != "1" {
		t.Skip("run by make demo-argocd (DYNAMO_CMP_DEMO=1)")
	}
	say := func(format string, a ...any) { fmt.Printf("\n==> "+format+"\n", a...) }
	say("starting DynamoDB Local, 2 kube-apiservers, Argo CD %s (redis, repo-server + dynamo-cmp sidecar, controllers, API server) and dynamo-cmp serve", harness.ArgoCDVersion())
	l := startLoop(t)
	say("applied manifests/examples/applicationset-plugin-generator.yaml; waiting for Argo CD to sync both clusters")
	for _, c := range []string{cluster, prodCluster} {
		eventually(t, patience, appName(c)+" settled", func() (bool, string) { return l.settled(t, c) })
	}
	out, _, _ := l.argo.CLI(t, "app", "list")
	say("argocd app list\n%s", out)
	for _, c := range []string{cluster, prodCluster} {
		ns, err := l.clusters[c].Clientset.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=dynamo-cmp"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range ns.Items {
			names = append(names, n.Name)
		}
		team := map[string]string{cluster: "dev-team", prodCluster: "prod-team"}[c]
		say("cluster %s (%s): namespaces %s; ResourceQuota %s cpu: %s", c, l.clusters[c].Config.Host, strings.Join(names, ", "), team, l.quotaCPU(t, c, team))
	}
	say("dynamo-cmp config publish --layer env/dev  (dev-team quota cpu 4 → 6)")
	changed := strings.Replace(readRepoFile(t, "examples/layers/env/dev.yaml"), `"cpu": "4"`, `"cpu": "6"`, 1)
	t0 := time.Now()
	l.publishText(t, "env/dev", changed, "more cpu for dev-team")
	eventually(t, patience, "the change in dev-k3s", func() (bool, string) { return l.quotaCPU(t, cluster, "dev-team") == "6", "" })
	say("arrived in dev-k3s after %s: ResourceQuota dev-team cpu %s (Application now at %s); prod-eu untouched at %s",
		time.Since(t0).Round(100*time.Millisecond), l.quotaCPU(t, cluster, "dev-team"), l.appVersion(t, cluster), l.appVersion(t, prodCluster))
	say("tearing everything down")
}
