package e2e

// make bench-loop: figures of the whole loop with the real Argo CD control plane. Printed,
// never asserted.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/e2e/harness"
)

func BenchmarkLoop(b *testing.B) {
	samples := 20
	if s, err := strconv.Atoi(os.Getenv("DYNAMO_CMP_BENCH_SAMPLES")); err == nil && s > 0 {
		samples = s
	}
	start := time.Now()
	l := startLoop(b)
	for _, c := range []string{cluster, prodCluster} {
		eventually(b, patience, appName(c)+" settled", func() (bool, string) { return l.settled(b, c) })
	}
	fmt.Printf("loop: control plane up and %d Applications Synced/Healthy %s after start\n", 2, time.Since(start).Round(time.Second))
	l.addLatestApp(b)
	eventually(b, patience, appName(labCluster)+" settled", func() (bool, string) { return l.settled(b, labCluster) })
	b.ResetTimer()

	devLayer := readRepoFile(b, "examples/layers/env/dev.yaml")
	measure := func(name string, perSample time.Duration, publish func(i int) (cluster, ns, cpu string)) {
		var got []time.Duration
		misses := 0
		for i := 0; i < samples && misses < 2; i++ {
			c, ns, cpu := publish(i)
			t0 := time.Now()
			for l.quotaCPU(b, c, ns) != cpu {
				if time.Since(t0) > perSample {
					misses++
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if l.quotaCPU(b, c, ns) != cpu {
				continue // not arrived (an Application following latest that nothing syncs)
			}
			got = append(got, time.Since(t0))
			eventually(b, patience, c+" settled", func() (bool, string) { return l.settled(b, c) })
		}
		report(b, name, got, misses, perSample)
	}
	measure("publish → objects changed, pinned (ApplicationSet, env/dev → dev-k3s)", patience, func(i int) (string, string, string) {
		cpu := strconv.Itoa(5 + i)
		l.publishText(b, "env/dev", strings.Replace(devLayer, `"cpu": "4"`, `"cpu": "`+cpu+`"`, 1), "bench "+cpu)
		return cluster, "dev-team", cpu
	})
	measure("publish → objects changed, latest (Application without selfHeal, cluster/lab)", 60*time.Second, func(i int) (string, string, string) {
		cpu := strconv.Itoa(2 + i)
		l.publishText(b, "cluster/"+labCluster, strings.Replace(extraLayers["cluster/"+labCluster], `cpu: "1"`, `cpu: "`+cpu+`"`, 1), "bench "+cpu)
		return labCluster, "lab", cpu
	})

	l.clusters[newCluster] = harness.StartKubeAPIServer(b)
	l.argo.RegisterCluster(b, newCluster, l.clusters[newCluster])
	t0 := time.Now()
	l.publishText(b, "cluster/"+newCluster, extraLayers["cluster/"+newCluster], "new cluster")
	eventually(b, patience, appName(newCluster)+" settled", func() (bool, string) { return l.settled(b, newCluster) })
	fmt.Printf("loop: new cluster published → its Application Synced/Healthy, all %d objects present: %s\n",
		len(l.rendered(b, newCluster)), time.Since(t0).Round(10*time.Millisecond))

	good := l.appVersion(b, prodCluster)
	t0 = time.Now()
	l.publishText(b, "env/prod", extraLayers["env/prod"]+"manifests:\n  - apiVersion: widgets.example.com/v1\n    kind: Widget\n    metadata: {name: no-such-crd, namespace: prod-team}\n", "bad")
	eventually(b, 2*patience, prodCluster+" rolled back", func() (bool, string) {
		ok, why := l.settled(b, prodCluster)
		v := l.appVersion(b, prodCluster)
		return ok && v == good, v + " " + why
	})
	fmt.Printf("loop: bad publish → auto-rollback → objects back on %s, Synced/Healthy: %s\n", good, time.Since(t0).Round(10*time.Millisecond))
}

func report(b *testing.B, name string, d []time.Duration, misses int, limit time.Duration) {
	if len(d) == 0 {
		fmt.Printf("loop: %s: no change arrived within %s (%d tries)\n", name, limit, misses)
		return
	}
	slices.Sort(d)
	pct := func(p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	fmt.Printf("loop: %s: n=%d p50 %s p95 %s min %s max %s", name, len(d),
		pct(0.5).Round(10*time.Millisecond), pct(0.95).Round(10*time.Millisecond), d[0].Round(10*time.Millisecond), d[len(d)-1].Round(10*time.Millisecond))
	if misses > 0 {
		fmt.Printf(" (%d did not arrive within %s)", misses, limit)
	}
	fmt.Println()
}
