package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/testkit"
)

// config history shows, beside the actor label a publisher chose, the AWS principal STS
// named for the write: --actor cannot hide who made it.
func TestHistoryShowsCallerArn(t *testing.T) {
	env, _ := examplesTable(t) // published with --actor tester
	h := run(t, env, "config", "history", "--layer", "env/dev")
	if h.code != 0 {
		t.Fatalf("history: exit %d\n%s", h.code, h.stderr)
	}
	var versionRow, auditRow string
	for _, line := range strings.Split(h.stdout, "\n") {
		f := strings.Join(strings.Fields(line), " ")
		switch {
		case strings.HasPrefix(f, "1 * yes "):
			versionRow = f
		case strings.Contains(f, " publish 0 1 "):
			auditRow = f
		}
	}
	if !strings.Contains(versionRow, " tester "+testCallerArn+" ") || !strings.Contains(auditRow, " tester "+testCallerArn+" ") {
		t.Errorf("history does not show actor tester beside caller %s:\n%s", testCallerArn, h.stdout)
	}

	j := run(t, env, "config", "history", "--layer", "env/dev", "-o", "json")
	var out struct {
		Versions []struct {
			Version   int    `json:"version"`
			Actor     string `json:"actor"`
			CallerArn string `json:"callerArn"`
		} `json:"versions"`
		Audit []struct {
			Action    string `json:"action"`
			Actor     string `json:"actor"`
			CallerArn string `json:"callerArn"`
		} `json:"audit"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &out); err != nil || j.code != 0 {
		t.Fatalf("history -o json: exit %d, %v\n%s%s", j.code, err, j.stdout, j.stderr)
	}
	if len(out.Versions) != 1 || out.Versions[0].Actor != "tester" || out.Versions[0].CallerArn != testCallerArn ||
		len(out.Audit) != 1 || out.Audit[0].Actor != "tester" || out.Audit[0].CallerArn != testCallerArn {
		t.Errorf("history -o json = %+v, want one version and one publish by tester as %s", out, testCallerArn)
	}
}

// When STS does not answer, an operator's publish is refused with the retryable exit code
// and the layer keeps its version.
func TestPublishRefusedWhenSTSFails(t *testing.T) {
	env, _ := examplesTable(t)
	down := testkit.NewFakeSTS(t, testCallerArn)
	down.Fail.Store(true)
	dir := t.TempDir()
	f := dir + "/dev.yaml"
	writeFile(t, f, "settings:\n  commonLabels: {owner: someone-else}\n")
	r := run(t, with(env, "AWS_ENDPOINT_URL_STS", down.URL), "config", "publish", "-f", f, "--layer", "env/dev", "--actor", "mallory")
	if r.code != 3 || !strings.Contains(r.stderr, "the audit record needs the caller's AWS identity") {
		t.Fatalf("publish with STS down: exit %d, want 3 naming the missing identity\n%s", r.code, r.stderr)
	}
	if h := run(t, env, "config", "history", "--layer", "env/dev"); strings.Contains(h.stdout, "mallory") {
		t.Errorf("the refused publish reached the history:\n%s", h.stdout)
	}
}
