package e2e

// make bench-loop: figures of the whole loop with the real Argo CD control plane. Printed,
// never asserted.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	// What `clusters status` shows lags the objects by serve's reading of the Applications:
	// every --status-interval (5 s) while a change is followed, 30 s otherwise.
	var observed []time.Duration
	for i := range min(samples, 5) {
		eventually(b, patience, cluster+" settled", func() (bool, string) { return l.settled(b, cluster) })
		cpu := strconv.Itoa(40 + i)
		l.publishText(b, "env/dev", strings.Replace(devLayer, `"cpu": "4"`, `"cpu": "`+cpu+`"`, 1), "bench status "+cpu)
		t0 := time.Now()
		eventually(b, patience, cluster+" quota cpu "+cpu, func() (bool, string) { return l.quotaCPU(b, cluster, "dev-team") == cpu, "" })
		inCluster := time.Since(t0)
		eventually(b, patience, "clusters status shows "+cluster+" synced", func() (bool, string) {
			v := l.appVersion(b, cluster)
			return l.observedSynced(b, cluster) == v, v
		})
		observed = append(observed, time.Since(t0)-inCluster)
	}
	report(b, "objects changed → clusters status shows the cluster synced on it (pinned, env/dev → dev-k3s)", observed, 0, 0)
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

	// Bad publishes of env/prod rolled out in waves, with the example ApplicationSet's retry
	// policy (limit 3, 10 s × 2ⁿ): the canary prod-eu applies the new quota and the API server
	// rejects a Service (port 70000: Argo CD's client-side dry run lets it through, as issue 18
	// saw, so the version is partly applied). From the publish: the rollout halted, the head
	// rolled back, the objects back (the quota as before, the Application Synced and Healthy on
	// the good version).
	strategy := filepath.Join(l.dir, "prod-canary.yaml")
	if err := os.WriteFile(strategy, []byte("name: prod-canary\nlayers: [env/prod]\nwaves:\n  - {name: canary, namePattern: "+prodCluster+", bake: 10s}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	l.cli(b, "rollout", "strategy", "put", "-f", strategy)
	var halted, rolledBack, back []time.Duration
	partial := 0
	for i := range min(samples, 5) {
		eventually(b, patience, prodCluster+" settled", func() (bool, string) { return l.settled(b, prodCluster) })
		good, cpu := l.appVersion(b, prodCluster), l.quotaCPU(b, prodCluster, "prod-team")
		bad := strings.Replace(extraLayers["env/prod"], `cpu: "16"`, `cpu: "`+strconv.Itoa(20+i)+`"`, 1) +
			"manifests:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: bad-port, namespace: prod-team}\n    spec: {ports: [{port: 70000}]}\n"
		t0 := time.Now()
		l.publishText(b, "env/prod", bad, "bad "+strconv.Itoa(i))
		var tHalted, tRolledBack time.Duration
		sawBad := false
		eventually(b, 2*patience, prodCluster+" rolled back and its objects back", func() (bool, string) {
			r := l.rolloutItem(b, "env#prod")
			if r != nil && tHalted == 0 && (r.State == "halted" || r.State == "rolled-back") {
				tHalted = time.Since(t0)
			}
			if r != nil && tRolledBack == 0 && r.State == "rolled-back" {
				tRolledBack = time.Since(t0)
			}
			q := l.quotaCPU(b, prodCluster, "prod-team")
			sawBad = sawBad || q != cpu
			if tRolledBack == 0 || q != cpu || l.appVersion(b, prodCluster) != good {
				return false, "quota cpu " + q
			}
			ok, why := l.settled(b, prodCluster)
			return ok, why
		})
		back = append(back, time.Since(t0))
		halted, rolledBack = append(halted, tHalted), append(rolledBack, tRolledBack)
		if sawBad {
			partial++
		}
	}
	name := "bad publish in waves (example retry policy: limit 3, 10 s × 2ⁿ) → "
	report(b, name+"rollout halted", halted, 0, 0)
	report(b, name+"head rolled back", rolledBack, 0, 0)
	report(b, name+"objects back, Synced/Healthy", back, 0, 0)
	fmt.Printf("loop: the bad version was partly applied (quota changed) in %d of %d bad publishes\n", partial, len(back))
}

// observedSynced is the configVersion `clusters status` says the cluster's Applications are
// Synced and Healthy on ("" when not, or not observed).
func (l *loop) observedSynced(b *testing.B, cluster string) string {
	var list []struct {
		Cluster  string `json:"cluster"`
		Observed *struct {
			SyncedVersion string `json:"syncedVersion"`
		} `json:"observed"`
	}
	if err := json.Unmarshal([]byte(l.cli(b, "clusters", "status", "-o", "json")), &list); err != nil {
		b.Fatal(err)
	}
	for _, c := range list {
		if c.Cluster == cluster && c.Observed != nil {
			return c.Observed.SyncedVersion
		}
	}
	return ""
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
