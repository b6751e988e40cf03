package shiptest_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/cli"
	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
	"github.com/dynamo-cmp/dynamo-cmp/internal/faultproxy"
	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// docFiles are the pages whose commands must exist.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(repoRoot(t), "README.md")}, files...)
}

// codeSpans returns the text of the inline code spans and fenced code blocks of a Markdown
// page: where commands are written.
func codeSpans(md string) []string {
	var out []string
	fence := regexp.MustCompile("(?ms)^\\s*```[^\\n]*\\n(.*?)^\\s*```")
	for _, m := range fence.FindAllStringSubmatch(md, -1) {
		out = append(out, strings.Split(m[1], "\n")...)
	}
	md = fence.ReplaceAllString(md, "")
	// Indented code blocks (four spaces after a blank line).
	for _, block := range regexp.MustCompile(`(?m)(?:^\n)((?:^(?: {4}|\t).*\n?)+)`).FindAllStringSubmatch(md, -1) {
		out = append(out, strings.Split(block[1], "\n")...)
	}
	for _, m := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// commandPath matches a command line that runs the binary: "dynamo-cmp sub sub ..." at the
// start of a code span or line, after an optional prompt, environment assignments and a
// directory (bin/dynamo-cmp). Prose and messages quoted in code ("dynamo-cmp could not
// render ...") do not start that way.
var commandPath = regexp.MustCompile(`^\s*(?:\$\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:\S*/)?dynamo-cmp((?:\s+[a-z][a-z-]*)+)`)

// TestDocumentedCommandsExist finds every `dynamo-cmp <command>` written in code in README.md
// and docs/*.md and asks the binary built as the image builds it for its --help: the help
// must be the help of exactly that command, so a renamed or removed command fails here.
func TestDocumentedCommandsExist(t *testing.T) {
	bin := buildBinary(t, t.TempDir(), "v0.0.0-docs")
	paths := map[string][]string{} // command path → pages
	for _, f := range docFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, span := range codeSpans(string(data)) {
			for _, m := range commandPath.FindAllStringSubmatch(span, -1) {
				words := strings.Fields(m[1])
				page := filepath.Base(f)
				paths[strings.Join(words, " ")] = append(paths[strings.Join(words, " ")], page)
			}
		}
	}
	if len(paths) < 10 {
		t.Fatalf("found only %d documented commands: %v", len(paths), paths)
	}
	checked := map[string]bool{}
	for p, pages := range paths {
		words := strings.Fields(p)
		// The longest prefix of the words that names a command is the command; the rest are
		// its arguments (`dynamo-cmp config get / export` yields "config get").
		var cmd string
		for n := len(words); n > 0 && cmd == ""; n-- {
			out, err := exec.Command(bin, append(slices.Clone(words[:n]), "--help")...).CombinedOutput()
			help := string(out)
			// A command with subcommands takes no plain words after it: `config publsh` is a
			// typo, not the config command with an argument.
			group := strings.Contains(help, "\nAvailable Commands:")
			if err == nil && strings.Contains(help, "\n  dynamo-cmp "+strings.Join(words[:n], " ")) && (n == len(words) || !group) {
				cmd = strings.Join(words[:n], " ")
			}
		}
		if cmd == "" {
			t.Errorf("%v: `dynamo-cmp %s` is not a command of the binary (dynamo-cmp %s --help shows another command's help)", slices.Compact(pages), p, words[0])
			continue
		}
		checked[cmd] = true
	}
	t.Logf("%d documented commands exist: %v", len(checked), slices.Sorted(func(yield func(string) bool) {
		for c := range checked {
			if !yield(c) {
				return
			}
		}
	}))
}

// errorCase is one way `generate` fails, as Argo CD would show it.
type errorCase struct {
	name   string
	phrase string // a distinctive phrase of the message, the heading of its entry in docs/operations.md
	code   int
	env    func(base cli.Env) cli.Env
	out    func() *failingWriter // stdout replacement, for a failed write
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// troubleshootingPhrases returns the backticked headings of the Troubleshooting section of
// docs/operations.md: one per message family generate can print.
func troubleshootingPhrases(t *testing.T) []string {
	t.Helper()
	doc := readRepoFile(t, "docs/operations.md")
	_, section, ok := strings.Cut(doc, "\n## Troubleshooting")
	if !ok {
		t.Fatal("docs/operations.md has no ## Troubleshooting section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?m)^#### `([^`]+)`").FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("docs/operations.md: no #### `phrase` entries under ## Troubleshooting")
	}
	return out
}

// testFilesProducing are the test files that produce the failures this package cannot make
// happen through DynamoDB Local (an item edited by hand into an unreadable shape, say): a
// documented phrase found in one of them is produced by a test.
var testFilesProducing = []string{"internal/cli/*_test.go", "internal/store/*_test.go", "internal/plugin/*_test.go", "pkg/*/*_test.go"}

// TestTroubleshootingCoversGenerateErrors makes `generate` fail in every way it can fail
// through its command line, environment, DynamoDB Local (directly, behind the IAM proxy or
// behind the fault proxy) and its output, and checks the contract of each failure (non-zero
// exit, nothing on stdout, one paragraph on stderr with a trace id, no request id) and that
// docs/operations.md explains it: every message family produced here has a Troubleshooting
// entry, every entry is produced here or by a test of the packages that make the message,
// and every hint generate prints is quoted in the page.
func TestTroubleshootingCoversGenerateErrors(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	cfg := dynamolocal.NewTable(t, endpoint)
	base := storeEnv(t, cfg, endpoint)
	publishExamples(t, base)
	ctx := context.Background()
	st := newStore(t, cfg, endpoint)

	// A cluster layer without a cluster record, published around the CLI's checks (as a
	// console edit could leave it).
	bare := config.ClusterLayer("bare")
	if _, err := st.Publish(ctx, store.PublishInput{Ref: bare, Entries: []config.Entry{namespaceEntry(t, "lonely")}, Actor: "shipcheck"}); err != nil {
		t.Fatal(err)
	}
	// A cluster whose published configuration does not merge or validate.
	broken := func(name string, entries ...config.Entry) {
		t.Helper()
		rec, err := config.NewEntry(config.KindCluster, map[string]any{"name": name, "environment": "dev", "region": "eu-west-1", "projects": []any{"platform"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Publish(ctx, store.PublishInput{Ref: config.ClusterLayer(name), Entries: append(entries, rec), Actor: "shipcheck"}); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(body map[string]any) config.Entry {
		t.Helper()
		e, err := config.NewEntry(config.KindNamespace, body)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	broken("invalid", entry(map[string]any{"namespace": "team", "resourceQuota": map[string]any{"cpu": "four"}}))
	broken("baddirective", entry(map[string]any{"namespace": "team", "$patch": "merge-please"}))
	broken("unknownvar", entry(map[string]any{"namespace": "team", "labels": map[string]any{"owner": "${vars.nobody}"}}))
	broken("forbidden", entry(map[string]any{"namespace": "kube-system"}))
	// A version whose publish never completed: the head move (a transaction with an
	// UpdateItem) is refused after the claim and the entries were written.
	noUpdate := &effective{statements: []statement{{Effect: "Allow", Resource: stringList{exampleTableARN(t)}, Action: stringList{
		"dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"}}}}
	interrupted := startIAMProxy(t, endpoint, cfg.Table, noUpdate)
	changed := filepath.Join(t.TempDir(), "dev-k3s.yaml")
	writeFile(t, changed, readRepoFile(t, "examples/layers/cluster/dev-k3s.yaml")+"\n---\nnamespaces: [{namespace: extra}]\n")
	if r := run(t, with(base, "AWS_ENDPOINT_URL_DYNAMODB", interrupted.URL()), "config", "publish", "-f", changed, "--layer", "cluster/dev-k3s", "--actor", "x"); r.Code == 0 {
		t.Fatalf("the publish without UpdateItem succeeded: %s", r)
	}

	denyQuery := &effective{statements: []statement{{Effect: "Allow", Action: stringList{"dynamodb:BatchGetItem"}, Resource: stringList{exampleTableARN(t)}}}}
	iam := startIAMProxy(t, endpoint, cfg.Table, denyQuery)
	rejecting := startIAMProxy(t, endpoint, cfg.Table, nil)
	rejecting.rejectCredentials = true
	hang := faultproxy.Start(t, endpoint)
	hang.Inject(faultproxy.Always(faultproxy.NoAnswer()))
	throttle := faultproxy.Start(t, endpoint)
	throttle.Inject(faultproxy.Always(faultproxy.Throttled(faultproxy.ThrottlingException)))
	failing := faultproxy.Start(t, endpoint)
	failing.Inject(faultproxy.Always(faultproxy.Status(500)))

	params := func(p string) func(cli.Env) cli.Env {
		return func(e cli.Env) cli.Env { return argocd(e, p) }
	}
	dev := `[{"name":"cluster","string":"dev-k3s"}]`
	cluster := func(name string, extra ...string) func(cli.Env) cli.Env {
		p := `[{"name":"cluster","string":"` + name + `"}` + strings.Join(extra, "") + `]`
		return params(p)
	}
	set := func(kv ...string) func(cli.Env) cli.Env {
		return func(e cli.Env) cli.Env { return with(argocd(e, dev), kv...) }
	}
	cases := []errorCase{
		{name: "no cluster", phrase: `parameter "cluster" is required`, code: 1, env: params(`[]`)},
		{name: "bad name", phrase: `is not a valid name`, code: 1, env: cluster("Dev_K3s")},
		{name: "bad configVersion", phrase: `expected g<N>.e<N>.c<N>`, code: 1, env: cluster("dev-k3s", `,{"name":"configVersion","string":"v12"}`)},
		{name: "bad component", phrase: `is not a component`, code: 1, env: cluster("dev-k3s", `,{"name":"components","array":["secrets"]}`)},
		{name: "unknown parameter", phrase: `unknown parameter`, code: 1, env: params(`[{"name":"clustr","string":"dev-k3s"}]`)},
		{name: "list for a string", phrase: `must be a string, not a list`, code: 1, env: params(`[{"name":"cluster","array":["dev-k3s"]}]`)},
		{name: "map", phrase: `must be a string or a list, not a map`, code: 1, env: params(`[{"name":"cluster","string":"dev-k3s"},{"name":"components","map":{"a":"b"}}]`)},
		{name: "twice", phrase: `is given twice`, code: 1, env: cluster("dev-k3s", `,{"name":"cluster","string":"dev-k3s"}`)},
		{name: "broken JSON", phrase: `ARGOCD_APP_PARAMETERS is not the JSON list Argo CD sends`, code: 1, env: params(`[{"name":`)},
		{name: "information parameter", phrase: `only shows what is published`, code: 1, env: cluster("dev-k3s", `,{"name":"publishedConfigVersion","string":"g1.e1.c1"}`)},
		{name: "bad timeout", phrase: `is not a positive duration`, code: 2, env: set("DYNAMO_CMP_TIMEOUT", "soon")},
		{name: "no region", phrase: `no AWS region configured`, code: 3, env: set("AWS_REGION", "")},
		{name: "no profile", phrase: `is not in the shared config files`, code: 3, env: set("AWS_PROFILE", "nope")},
		{name: "no credentials", phrase: `no usable AWS credentials`, code: 3, env: set("AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "")},
		{name: "no table", phrase: `does not exist in region`, code: 3, env: set("DYNAMO_CMP_TABLE", "nope")},
		{name: "access denied", phrase: `access denied: the caller may not`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", iam.URL())},
		{name: "credentials rejected", phrase: `AWS rejected the request's credentials`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", rejecting.URL())},
		{name: "unreachable", phrase: `cannot reach DynamoDB at`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")},
		{name: "deadline", phrase: `did not finish within the`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", hang.URL(), "DYNAMO_CMP_TIMEOUT", "1s")},
		{name: "throttled", phrase: `throttled by DynamoDB`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", throttle.URL())},
		{name: "server error", phrase: `DynamoDB failed (`, code: 3, env: set("AWS_ENDPOINT_URL_DYNAMODB", failing.URL())},
		{name: "not registered", phrase: `is not registered`, code: 1, env: cluster("prod-eks")},
		{name: "no such version", phrase: `has no version`, code: 1, env: cluster("dev-k3s", `,{"name":"configVersion","string":"g1.e9.c1"}`)},
		{name: "unpublished version", phrase: `was never published`, code: 1, env: cluster("dev-k3s", `,{"name":"configVersion","string":"g1.e1.c2"}`)},
		{name: "other environment", phrase: `belongs to environment`, code: 1, env: cluster("dev-k3s", `,{"name":"environment","string":"prod"}`)},
		{name: "no record, environment unknown", phrase: `holds no cluster record naming the environment`, code: 1, env: cluster("bare")},
		{name: "no record", phrase: `must hold a cluster record`, code: 1, env: cluster("bare", `,{"name":"environment","string":"dev"}`)},
		{name: "project", phrase: `may not render this cluster`, code: 1, env: set("ARGOCD_APP_PROJECT_NAME", "team-a")},
		{name: "no project", phrase: `ARGOCD_APP_PROJECT_NAME is not set`, code: 1, env: set("ARGOCD_APP_PROJECT_NAME", "")},
		{name: "invalid", phrase: `the configuration is invalid`, code: 1, env: cluster("invalid")},
		{name: "directive", phrase: `is not a directive`, code: 1, env: cluster("baddirective")},
		{name: "variable", phrase: `unknown variable`, code: 1, env: cluster("unknownvar")},
		{name: "policy", phrase: `refused by the default policy`, code: 1, env: cluster("forbidden")},
		{name: "no objects", phrase: `renders no objects`, code: 1, env: cluster("dev-k3s", `,{"name":"components","array":["manifests"]}`)},
		{name: "write", phrase: `writing the manifests failed`, code: 3, env: params(dev), out: func() *failingWriter { return &failingWriter{} }},
	}

	// All at once: the SDK's retries make a DynamoDB failure take seconds (t.Parallel would
	// run only GOMAXPROCS of them at a time).
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { results[i] = failGenerate(c, base) })
	}
	wg.Wait()
	produced := map[string]string{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkFailure(t, c, results[i]) })
		produced[c.phrase] = results[i].Stderr
	}

	// The page and the failures agree.
	documented := troubleshootingPhrases(t)
	for _, c := range cases {
		if !slices.Contains(documented, c.phrase) {
			t.Errorf("docs/operations.md has no Troubleshooting entry #### `%s` (generate prints it: %s)", c.phrase, strings.TrimSpace(produced[c.phrase]))
		}
	}
	var tests []string
	for _, glob := range testFilesProducing {
		files, _ := filepath.Glob(filepath.Join(repoRoot(t), glob))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			tests = append(tests, string(data))
		}
	}
	for _, p := range documented {
		found := false
		for _, stderr := range produced {
			found = found || strings.Contains(stderr, p)
		}
		for _, src := range tests {
			found = found || strings.Contains(src, p)
		}
		if !found {
			t.Errorf("docs/operations.md documents `%s`, but no test produces that message (here or in %v)", p, testFilesProducing)
		}
	}
	page := strings.Join(strings.Fields(readRepoFile(t, "docs/operations.md")), " ")
	for _, h := range generateHints(t) {
		if !strings.Contains(page, strings.Join(strings.Fields(h), " ")) {
			t.Errorf("docs/operations.md does not quote the hint generate prints: %q", h)
		}
	}
}

// generateHints returns the leading literal of every hint internal/cli/generate.go gives
// (the `hint:` fields and `f.hint =` assignments).
func generateHints(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(repoRoot(t), "internal", "cli", "generate.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	lit := func(e ast.Expr) {
		for {
			b, ok := e.(*ast.BinaryExpr)
			if !ok {
				break
			}
			e = b.X
		}
		if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
			s, err := strconv.Unquote(bl.Value)
			if err == nil {
				out = append(out, strings.TrimSuffix(s, "."))
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.KeyValueExpr:
			if id, ok := x.Key.(*ast.Ident); ok && id.Name == "hint" {
				lit(x.Value)
			}
		case *ast.AssignStmt:
			if sel, ok := x.Lhs[0].(*ast.SelectorExpr); ok && sel.Sel.Name == "hint" {
				lit(x.Rhs[0])
			}
		}
		return true
	})
	if len(out) < 5 {
		t.Fatalf("found only %d hints in generate.go", len(out))
	}
	return out
}

// failGenerate runs generate for one failure case, in process.
func failGenerate(c errorCase, base cli.Env) result {
	var out, errOut strings.Builder
	streams := cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	if c.out != nil {
		streams.Out = c.out()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, streams, []string{"generate"}, c.env(base))
	return result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// checkFailure checks the contract of a failed generate: the exit code, nothing on stdout,
// one paragraph with a trace id on stderr, no request id or account.
func checkFailure(t *testing.T, c errorCase, r result) {
	t.Helper()
	if r.Code != c.code || r.Stdout != "" || !strings.Contains(r.Stderr, c.phrase) {
		t.Errorf("want exit %d, nothing on stdout and %q on stderr; got %s", c.code, c.phrase, r)
	}
	if lines := strings.Count(strings.TrimSpace(r.Stderr), "\n"); lines > 0 {
		t.Errorf("stderr is %d lines, want one paragraph:\n%s", lines+1, r.Stderr)
	}
	if c.code != cli.ExitUsage && !strings.Contains(r.Stderr, "[trace ") {
		t.Errorf("no trace id: %s", r.Stderr)
	}
	for _, leak := range []string{"SHIPCHECKREQ", faultproxy.RequestIDPrefix, "RequestID", "123456789012", "dynamo-cmp-shipcheck"} {
		if strings.Contains(r.Stderr, leak) {
			t.Errorf("stderr leaks %q: %s", leak, r.Stderr)
		}
	}
	t.Logf("%s", strings.TrimSpace(r.Stderr))
}
