package e2e

// Scenario 8 of TestArgoCDLoop (issue 13): a global publish reaches the fleet in two
// health-gated waves through the real Argo CD control plane; a bad one halts in wave 1, which
// returns to the previous objects, and never reaches wave 2; the replica of serve driving the
// rollout is killed mid-rollout and a second replica completes it without taking a step twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// storedRollout is the part of the rollout item the test reads (its format is the store's).
type storedRollout struct {
	ID            string    `json:"id"`
	Stable        int       `json:"stable"`
	Target        int       `json:"target"`
	State         string    `json:"state"`
	Wave          int       `json:"wave"`
	WaveStartedAt time.Time `json:"waveStartedAt"`
	BakeStartedAt time.Time `json:"bakeStartedAt"`
	Reason        string    `json:"reason"`
	Log           []struct {
		At    time.Time `json:"at"`
		Event string    `json:"event"`
		Wave  int       `json:"wave"`
	} `json:"log"`
}

func (l *loop) rolloutItem(t testing.TB, layerPK string) *storedRollout {
	t.Helper()
	out, err := dynamoClient(l.db.Endpoint).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(loopTable), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "rollout"},
			"sk": &types.AttributeValueMemberS{Value: layerPK},
		}})
	if err != nil {
		t.Fatal(err)
	}
	body, ok := out.Item["rollout"].(*types.AttributeValueMemberS)
	if !ok {
		return nil
	}
	var r storedRollout
	if err := json.Unmarshal([]byte(body.Value), &r); err != nil {
		t.Fatalf("rollout item: %v", err)
	}
	return &r
}

func (r *storedRollout) steps() []string {
	var out []string
	for _, s := range r.Log {
		out = append(out, fmt.Sprintf("%s:%d", s.Event, s.Wave+1))
	}
	return out
}

func (r *storedRollout) stepAt(event string, wave int) time.Time {
	for _, s := range r.Log {
		if s.Event == event && s.Wave+1 == wave {
			return s.At
		}
	}
	return time.Time{}
}

// count is how many events about cluster have one of types.
func (w *webhook) count(cluster string, types ...string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if ev["cluster"] == cluster && slices.Contains(types, fmt.Sprint(ev["type"])) {
			n++
		}
	}
	return n
}

// synced reports whether cluster was reported synced on configVersion.
func (w *webhook) synced(cluster, configVersion string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.events {
		if ev["type"] == "synced" && ev["cluster"] == cluster && ev["configVersion"] == configVersion {
			return true
		}
	}
	return false
}

// rolloutEvents are the webhook's rollout-* events as "type:wave", in arrival order.
func (w *webhook) rolloutEvents(target int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ev := range w.events {
		typ, _ := ev["type"].(string)
		ro, _ := ev["rollout"].(map[string]any)
		if !strings.HasPrefix(typ, "rollout-") || ro == nil || ev["version"] != float64(target) {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%v", typ, ro["wave"]))
	}
	return out
}

const bake = 10 * time.Second

func (l *loop) rolloutInWaves(t *testing.T, top testing.TB) {
	wave1, wave2 := []string{newCluster}, []string{cluster, prodCluster}
	all := append(slices.Clone(wave1), wave2...)
	for _, c := range all {
		eventually(t, patience, c+" settled", func() (bool, string) { return l.settled(t, c) })
	}
	strategy := filepath.Join(l.dir, "strategy.yaml")
	if err := os.WriteFile(strategy, []byte(`name: global-canary
description: dev-new first; the rest once it has been Synced and Healthy for 10 s
layers: [global]
waves:
  - name: canary
    namePattern: `+newCluster+`
    bake: 10s
  - name: rest
`), 0o644); err != nil {
		t.Fatal(err)
	}
	l.cli(t, "rollout", "strategy", "put", "-f", strategy)
	global := readRepoFile(t, "examples/layers/global.yaml")
	monitoringCPU := func(c string) string { return l.quotaCPU(t, c, "monitoring") }
	for _, c := range all {
		if cpu := monitoringCPU(c); cpu != "8" {
			t.Fatalf("%s: monitoring quota cpu %s before the rollout, want the example's 8", c, cpu)
		}
	}

	var stableVersion map[string]string // configVersion of each cluster's Application before the bad publish
	t.Run("a good version: wave 1, bake, wave 2; serve killed mid-rollout", func(t *testing.T) {
		l.hook.reset()
		l.publishText(t, "global", strings.Replace(global, `cpu: "8"`, `cpu: "12"`, 1), "monitoring cpu 12, in waves")
		r := l.rolloutItem(t, "global")
		if r == nil || r.State != "progressing" {
			t.Fatalf("the publish started no rollout: %+v", r)
		}
		target := r.Target
		eventually(t, patience, newCluster+" (wave 1) has cpu 12", func() (bool, string) {
			cpu := monitoringCPU(newCluster)
			return cpu == "12", "cpu " + cpu
		})
		for _, c := range wave2 {
			if cpu := monitoringCPU(c); cpu != "8" {
				t.Errorf("%s (wave 2) has cpu %s while wave 1 is not through its bake", c, cpu)
			}
		}
		// The replica that drives the rollout dies once it started the bake; a second replica
		// (behind the same Service) completes the rollout.
		eventually(t, patience, "the bake of wave 1 started", func() (bool, string) {
			r := l.rolloutItem(t, "global")
			return !r.BakeStartedAt.IsZero(), fmt.Sprintf("%+v", r)
		})
		l.serve.kill(t)
		second := newServe(top, l, l.genToken, l.argoTok)
		second.start(t)
		l.serveSvc.Retarget(second.addr)
		l.serve = second
		for _, c := range wave2 {
			eventually(t, patience, c+" (wave 2) has cpu 12", func() (bool, string) {
				cpu := monitoringCPU(c)
				return cpu == "12", "cpu " + cpu
			})
		}
		eventually(t, patience, "the rollout completed", func() (bool, string) {
			r := l.rolloutItem(t, "global")
			return r.State == "completed", r.State + " " + strings.Join(r.steps(), ",")
		})
		r = l.rolloutItem(t, "global")
		if want := []string{"started:1", "wave-completed:1", "wave-started:2", "wave-completed:2", "completed:2"}; !slices.Equal(r.steps(), want) {
			t.Errorf("rollout steps %v, want each once: %v", r.steps(), want)
		}
		if started, baked := r.stepAt("wave-started", 2), r.stepAt("wave-completed", 1); started.Before(baked) || baked.Sub(r.Log[0].At) < bake {
			t.Errorf("wave 2 started %s, wave 1 completed %s after the start: want the wave 1 bake (%s) first", started, baked.Sub(r.Log[0].At), bake)
		}
		eventually(t, patience, "webhook: every rollout event once, in order", func() (bool, string) {
			got := l.hook.rolloutEvents(target)
			want := []string{"rollout-started:1", "rollout-wave-started:1", "rollout-wave-completed:1", "rollout-wave-started:2", "rollout-wave-completed:2", "rollout-completed:2"}
			return slices.Equal(got, want), fmt.Sprint(got)
		})
		stableVersion = map[string]string{}
		for _, c := range all {
			eventually(t, patience, c+" settled", func() (bool, string) { return l.settled(t, c) })
			stableVersion[c] = l.appVersion(t, c)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("a bad version halts in wave 1, which returns to the previous objects; wave 2 never sees it", func(t *testing.T) {
		objs := l.rendered(t, newCluster)
		l.hook.reset()
		bad := strings.Replace(global, `cpu: "8"`, `cpu: "20"`, 1) + `manifests:
  - apiVersion: widgets.example.com/v1
    kind: Widget
    metadata: {name: no-such-crd, namespace: monitoring}
    spec: {size: 3}
`
		l.publishText(t, "global", bad, "monitoring cpu 20 and a Widget (its CRD is not installed), in waves")
		published := time.Now()
		r := l.rolloutItem(t, "global")
		badTarget := r.Target
		wave1Served := ""
		eventually(t, 2*patience, "the rollout halted and rolled back", func() (bool, string) {
			for _, c := range wave2 {
				if v := l.appVersion(t, c); v != stableVersion[c] {
					t.Fatalf("%s (wave 2) was given %s during the bad rollout, want it kept on %s", c, v, stableVersion[c])
				}
				if cpu := monitoringCPU(c); cpu != "12" {
					t.Fatalf("%s (wave 2) has cpu %s during the bad rollout", c, cpu)
				}
			}
			if v := l.appVersion(t, newCluster); v != stableVersion[newCluster] {
				wave1Served = v
			}
			r := l.rolloutItem(t, "global")
			return r.State == "rolled-back", r.State + " " + r.Reason
		})
		t.Logf("bad publish → rollout rolled back: %s (the example's retry policy: limit 3, 10 s × 2ⁿ)", time.Since(published).Round(100*time.Millisecond))
		if wave1Served == "" {
			t.Errorf("%s (wave 1) was never given the bad version", newCluster)
		}
		r = l.rolloutItem(t, "global")
		if !strings.Contains(r.Reason, newCluster) {
			t.Errorf("the halt's reason does not name %s: %s", newCluster, r.Reason)
		}
		eventually(t, patience, newCluster+" back on "+stableVersion[newCluster]+" and settled", func() (bool, string) {
			v := l.appVersion(t, newCluster)
			ok, why := l.settled(t, newCluster)
			return ok && v == stableVersion[newCluster], v + " " + why
		})
		for i, got := range l.live(t, newCluster, objs) {
			if got == nil {
				t.Errorf("%s missing from %s after the halt", objs[i].GetName(), newCluster)
			}
		}
		if cpu := monitoringCPU(newCluster); cpu != "12" {
			t.Errorf("%s: cpu %s after the halt, want the previous 12", newCluster, cpu)
		}
		if out := l.cli(t, "config", "history", "--layer", "global"); !strings.Contains(out, "rollout") {
			t.Errorf("config history does not show the rollback of the rollout:\n%s", out)
		}
		eventually(t, patience, "webhook: started, halted, rolled back", func() (bool, string) {
			got := l.hook.rolloutEvents(badTarget)
			return slices.Equal(got, []string{"rollout-started:1", "rollout-wave-started:1", "rollout-halted:1", "rollout-rolled-back:1"}), fmt.Sprint(got)
		})
		// The canary's failure is reported once, before the halt it caused; then it is synced
		// on the version it is back on.
		if ok, why := l.hook.inOrder(newCluster, []string{"sync-failed", "degraded"}, []string{"rollout-halted"}); !ok {
			t.Errorf("webhook: %s's failure not reported before the halt: %s", newCluster, why)
		}
		if n := l.hook.count(newCluster, "sync-failed", "degraded"); n != 1 {
			t.Errorf("webhook: %d failure events for %s, want 1", n, newCluster)
		}
		eventually(t, patience, "webhook: "+newCluster+" synced on "+stableVersion[newCluster], func() (bool, string) {
			return l.hook.synced(newCluster, stableVersion[newCluster]), ""
		})
		for _, c := range wave2 {
			if v := l.appVersion(t, c); v != stableVersion[c] {
				t.Errorf("%s (wave 2) is on %s after the bad rollout, want %s", c, v, stableVersion[c])
			}
		}
	})
}
