package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/config"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

func TestScratchHostile(t *testing.T) {
	env, cfg := tableEnv(t)
	run(t, env, "table", "create")
	publishExamples(t, env)
	st, err := store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := st.ReadVersion(context.Background(), config.ClusterLayer("dev-k3s"), 1)
	if err != nil {
		t.Fatal(err)
	}
	base := 1
	for _, name := range []string{"evil\n---\nkind: Secret", strings.Repeat("n", 900)} {
		bad, err := config.NewEntry(config.KindNamespace, map[string]any{"namespace": name})
		if err != nil {
			t.Fatal(err)
		}
		h, err := st.Publish(context.Background(), store.PublishInput{Ref: config.ClusterLayer("dev-k3s"), Entries: append(append([]config.Entry(nil), cur.Entries...), bad), Base: base})
		if err != nil {
			t.Fatal(err)
		}
		base = h.Version
		r := run(t, argocdEnv(env, `[{"name":"cluster","string":"dev-k3s"}]`), "generate")
		t.Logf("exit %d, stdout %d, stderr %d bytes:\n%s", r.code, len(r.stdout), len(r.stderr), r.stderr)
	}
}
