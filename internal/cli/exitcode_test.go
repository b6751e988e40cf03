package cli_test

import (
	"strings"
	"testing"
)

// TestExitCodes checks that a wrong command line exits 2 and a configuration error 1, not 3
// ("retry"): a script that retries on 3 would loop on either.
func TestExitCodes(t *testing.T) {
	env, _ := tableEnv(t)
	if r := run(t, env, "table", "create"); r.code != 0 {
		t.Fatalf("table create: %d %s", r.code, r.stderr)
	}
	publishExamples(t, env)

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"validate bad cluster", env, []string{"config", "validate", "--cluster", "Bad_Name"}, 2, `--cluster: layer "cluster/Bad_Name": "Bad_Name" is not a valid name`},
		{"render bad cluster", env, []string{"config", "render", "--cluster", "Bad_Name"}, 2, `"Bad_Name" is not a valid name`},
		{"diff bad cluster", env, []string{"config", "diff", "--cluster", "Bad_Name", "--from", "latest", "--to", "latest"}, 2, `"Bad_Name" is not a valid name`},
		{"rollback to 0", env, []string{"config", "rollback", "--layer", "env/dev", "--to", "0"}, 2, "--to 0: versions are numbered from 1"},
		{"rollback to -1", env, []string{"config", "rollback", "--layer", "env/dev", "--to", "-1"}, 2, "--to -1: versions are numbered from 1"},
		{"rollback without --to", env, []string{"config", "rollback", "--layer", "env/dev"}, 2, "--to is required"},
		{"generate in another environment", argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"},{"name":"environment","string":"prod"}]`),
			[]string{"generate"}, 1, "cluster dev-k3s belongs to environment dev, not prod"},
		{"generate pinned in another environment", argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"},{"name":"environment","string":"prod"},{"name":"configVersion","string":"g1.e1.c1"}]`),
			[]string{"generate"}, 1, "belongs to environment dev, not prod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("exit %d, want %d with %q on stderr and nothing on stdout; stdout %q, stderr:\n%s", r.code, c.code, c.want, r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "--to is required") && c.want != "--to is required" {
				t.Errorf("a given --to is reported as missing: %s", r.stderr)
			}
		})
	}
}
