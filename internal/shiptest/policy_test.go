package shiptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// An IAM policy document, decoded strictly: a field this test does not know (NotAction,
// NotResource, a misspelt key) fails the test instead of being ignored.
type policy struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                           `json:"Sid,omitempty"`
	Effect    string                           `json:"Effect"`
	Principal map[string]stringList            `json:"Principal,omitempty"`
	Action    stringList                       `json:"Action"`
	Resource  stringList                       `json:"Resource,omitempty"`
	Condition map[string]map[string]stringList `json:"Condition,omitempty"`
}

// stringList is IAM's "a string or a list of strings".
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

func loadPolicy(t *testing.T, name string) policy {
	t.Helper()
	return loadPolicyFrom(t, filepath.Join(repoRoot(t), "manifests", "iam"), name)
}

// loadPolicyFrom reads a policy file of another directory (testdata holds the files of
// earlier releases, which the negative tests show were too wide).
func loadPolicyFrom(t *testing.T, dir, name string) policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p policy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("manifests/iam/%s: %v", name, err)
	}
	if dec.More() {
		t.Fatalf("manifests/iam/%s: trailing data after the policy", name)
	}
	return p
}

// The permission policies, by principal. A principal's effective policy is the union of its
// files: serve's read-only part is always needed, the others only with the features that
// need them (docs/security.md).
var (
	sidecarPolicies      = []string{"sidecar-read-only.json"}
	servePolicies        = []string{"serve-read-only.json"}
	serveLKGPolicies     = []string{"serve-read-only.json", "serve-last-known-good.json"}
	serveRollbackPolicy  = []string{"serve-read-only.json", "serve-last-known-good.json", "serve-auto-rollback.json"}
	serveRolloutPolicies = []string{"serve-read-only.json", "serve-last-known-good.json", "serve-rollouts.json"}
	operatorPolicies     = []string{"operator-publish.json"}
	// layerWriterPolicies is the example of a writer of some cluster layers only (a team's
	// CI, console drafts), scoped with dynamodb:LeadingKeys.
	layerWriterPolicies = []string{"layer-writer-team-a.json"}
	readOnlyPolicyFiles = []string{"sidecar-read-only.json", "serve-read-only.json"}
	permissionPolicies  = []string{"sidecar-read-only.json", "serve-read-only.json", "serve-last-known-good.json", "serve-auto-rollback.json", "serve-rollouts.json", "operator-publish.json", "layer-writer-team-a.json"}
	trustPolicies       = []string{"irsa-trust-policy.json", "pod-identity-trust-policy.json"}
)

// readActions are the DynamoDB actions that cannot change the table.
var readActions = map[string]bool{
	"dynamodb:BatchGetItem": true, "dynamodb:GetItem": true, "dynamodb:Query": true,
	"dynamodb:Scan": true, "dynamodb:DescribeTable": true, "dynamodb:ConditionCheckItem": true,
}

// dynamoActions are the IAM actions of the DynamoDB data and table APIs this project could
// ever need. TransactWriteItems and TransactGetItems are API operations but not IAM actions:
// each item of a transaction is authorised as its own action.
var dynamoActions = map[string]bool{
	"dynamodb:BatchGetItem": true, "dynamodb:GetItem": true, "dynamodb:Query": true, "dynamodb:Scan": true,
	"dynamodb:DescribeTable": true, "dynamodb:ConditionCheckItem": true, "dynamodb:PutItem": true,
	"dynamodb:UpdateItem": true, "dynamodb:DeleteItem": true, "dynamodb:BatchWriteItem": true,
	"dynamodb:CreateTable": true,
}

// tableARN is a DynamoDB table's ARN: no index, no stream, no wildcard.
var tableARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:dynamodb:[a-z]{2}(-[a-z]+)+-\d:\d{12}:table/[A-Za-z0-9_.-]{3,255}$`)

// supportedConditions are the condition operators and keys the policies may use; the proxy
// in iamproxy_test.go evaluates exactly these.
var supportedConditions = map[string][]string{
	"ForAllValues:StringEquals": {"dynamodb:Attributes", "dynamodb:LeadingKeys"},
	"ForAllValues:StringLike":   {"dynamodb:LeadingKeys"},
	"StringEquals":              {"dynamodb:EnclosingOperation"},
}

// TestIAMPolicies checks every policy file by itself: valid JSON of the 2012-10-17 language,
// only Allow statements, explicit DynamoDB actions (no wildcard, no made-up action such as
// dynamodb:TransactWriteItems), resources that are exactly the table's ARN, read-only files
// without any write action, table creation in a statement of its own, and trust policies
// that name the repo-server's ServiceAccount.
func TestIAMPolicies(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "manifests", "iam")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := append(slices.Clone(permissionPolicies), trustPolicies...)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("manifests/iam holds %v; this test knows %v (add a new policy to the lists above and to docs/security.md)", names, want)
	}

	tables := map[string]bool{}
	for _, name := range permissionPolicies {
		t.Run(name, func(t *testing.T) {
			p := loadPolicy(t, name)
			if p.Version != "2012-10-17" {
				t.Errorf("Version %q, want 2012-10-17 (older versions do not support policy variables)", p.Version)
			}
			if len(p.Statement) == 0 {
				t.Fatal("no statement")
			}
			for i, s := range p.Statement {
				where := fmt.Sprintf("statement %d (%s)", i, s.Sid)
				if s.Effect != "Allow" {
					t.Errorf("%s: Effect %q, want Allow", where, s.Effect)
				}
				if s.Principal != nil {
					t.Errorf("%s: a permission policy names no Principal", where)
				}
				if len(s.Action) == 0 || len(s.Resource) == 0 {
					t.Errorf("%s: needs Action and Resource", where)
				}
				for _, a := range s.Action {
					switch {
					case strings.ContainsAny(a, "*?"):
						t.Errorf("%s: wildcard action %q", where, a)
					case !dynamoActions[a]:
						t.Errorf("%s: %q is not a DynamoDB IAM action this project uses (transactions are authorised per item: PutItem, UpdateItem ...)", where, a)
					}
					if slices.Contains(readOnlyPolicyFiles, name) && !readActions[a] {
						t.Errorf("%s: read-only policy allows the write action %s", where, a)
					}
					if a == "dynamodb:CreateTable" && slices.ContainsFunc(s.Action, func(a string) bool { return !readActions[a] && a != "dynamodb:CreateTable" }) {
						t.Errorf("%s: dynamodb:CreateTable belongs in a statement of its own, so it can be dropped once the table exists", where)
					}
				}
				for _, r := range s.Resource {
					if !tableARN.MatchString(r) {
						t.Errorf("%s: resource %q is not a table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)", where, r)
					}
					tables[r] = true
				}
				for op, keys := range s.Condition {
					for key := range keys {
						if !slices.Contains(supportedConditions[op], key) {
							t.Errorf("%s: condition %s %s is not evaluated by this test's IAM proxy (supported: %v)", where, op, key, supportedConditions)
						}
					}
				}
			}
		})
	}
	if len(tables) != 1 {
		t.Errorf("the policies name %d different tables, want the same example table everywhere: %v", len(tables), tables)
	}

	sa := repoServerServiceAccount(t)
	t.Run("irsa-trust-policy.json", func(t *testing.T) {
		p := loadPolicy(t, "irsa-trust-policy.json")
		if p.Version != "2012-10-17" || len(p.Statement) != 1 {
			t.Fatalf("want Version 2012-10-17 and one statement, got %q and %d", p.Version, len(p.Statement))
		}
		s := p.Statement[0]
		fed := s.Principal["Federated"]
		if s.Effect != "Allow" || len(fed) != 1 || !regexp.MustCompile(`^arn:aws:iam::\d{12}:oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[A-Z0-9]+$`).MatchString(fed[0]) {
			t.Errorf("want one Allow for an EKS OIDC provider, got %s %v", s.Effect, s.Principal)
		}
		if !slices.Equal(s.Action, stringList{"sts:AssumeRoleWithWebIdentity"}) {
			t.Errorf("Action %v", s.Action)
		}
		issuer := strings.TrimPrefix(fed[0][strings.Index(fed[0], "oidc-provider/"):], "oidc-provider/")
		eq := s.Condition["StringEquals"]
		if got := eq[issuer+":aud"]; !slices.Equal(got, stringList{"sts.amazonaws.com"}) {
			t.Errorf("aud condition %v, want sts.amazonaws.com", got)
		}
		if got, want := eq[issuer+":sub"], "system:serviceaccount:"+sa; !slices.Equal(got, stringList{want}) {
			t.Errorf("sub condition %v, want exactly %s (the ServiceAccount manifests/base annotates)", got, want)
		}
	})
	t.Run("pod-identity-trust-policy.json", func(t *testing.T) {
		p := loadPolicy(t, "pod-identity-trust-policy.json")
		if p.Version != "2012-10-17" || len(p.Statement) != 1 {
			t.Fatalf("want Version 2012-10-17 and one statement, got %q and %d", p.Version, len(p.Statement))
		}
		s := p.Statement[0]
		if !slices.Equal(s.Principal["Service"], stringList{"pods.eks.amazonaws.com"}) {
			t.Errorf("Principal %v, want the EKS Pod Identity service", s.Principal)
		}
		if got := slices.Sorted(slices.Values(s.Action)); !slices.Equal(got, []string{"sts:AssumeRole", "sts:TagSession"}) {
			t.Errorf("Action %v, want sts:AssumeRole and sts:TagSession", s.Action)
		}
		ns, name, _ := strings.Cut(sa, ":")
		eq := s.Condition["StringEquals"]
		if !slices.Equal(eq["aws:RequestTag/kubernetes-namespace"], stringList{ns}) ||
			!slices.Equal(eq["aws:RequestTag/kubernetes-service-account"], stringList{name}) ||
			len(eq["aws:RequestTag/eks-cluster-name"]) != 1 {
			t.Errorf("conditions %v: want the cluster, namespace %s and ServiceAccount %s", eq, ns, name)
		}
	})
}

// effective is the union of policy files, evaluated for one principal.
type effective struct {
	names      []string
	statements []statement
}

func loadEffective(t *testing.T, names []string) *effective {
	t.Helper()
	return loadEffectiveFrom(t, filepath.Join(repoRoot(t), "manifests", "iam"), names)
}

func loadEffectiveFrom(t *testing.T, dir string, names []string) *effective {
	t.Helper()
	e := &effective{names: names}
	for _, n := range names {
		e.statements = append(e.statements, loadPolicyFrom(t, dir, n).Statement...)
	}
	return e
}

// request is one authorisation question: may the principal perform action on the table?
type request struct {
	action string
	// resource is the table's ARN as the policies write it.
	resource string
	// attributes are the top-level attribute names of a written item (dynamodb:Attributes).
	attributes []string
	// enclosing is "TransactWriteItems" for an item of a transaction (dynamodb:EnclosingOperation).
	enclosing string
	// leadingKeys are the partition keys the request reads or writes (dynamodb:LeadingKeys):
	// the item's or key's pk, every key of a batch, the pk a query's key condition names.
	leadingKeys []string
}

// allows evaluates r as IAM does for identity policies with only Allow statements: allowed
// when one statement matches action, resource and every condition.
func (e *effective) allows(r request) bool {
	for _, s := range e.statements {
		if s.Effect != "Allow" || !slices.Contains(s.Action, r.action) || !slices.Contains(s.Resource, r.resource) {
			continue
		}
		if conditionsHold(s.Condition, r) {
			return true
		}
	}
	return false
}

// conditionsHold evaluates a statement's conditions as IAM does: every operator and key must
// hold. ForAllValues holds when every value of the request's key matches one of the policy's
// values — and, as AWS documents, when the request has no value for the key at all (a
// DescribeTable has no leading keys).
func conditionsHold(cond map[string]map[string]stringList, r request) bool {
	forAll := func(got []string, values stringList, match func(pattern, s string) bool) bool {
		for _, g := range got {
			if !slices.ContainsFunc(values, func(v string) bool { return match(v, g) }) {
				return false
			}
		}
		return true
	}
	equals := func(a, b string) bool { return a == b }
	for op, keys := range cond {
		for key, values := range keys {
			switch {
			case op == "ForAllValues:StringEquals" && key == "dynamodb:Attributes":
				if !forAll(r.attributes, values, equals) {
					return false
				}
			case op == "ForAllValues:StringEquals" && key == "dynamodb:LeadingKeys":
				if !forAll(r.leadingKeys, values, equals) {
					return false
				}
			case op == "ForAllValues:StringLike" && key == "dynamodb:LeadingKeys":
				if !forAll(r.leadingKeys, values, stringLike) {
					return false
				}
			case op == "StringEquals" && key == "dynamodb:EnclosingOperation":
				if !slices.Contains(values, r.enclosing) {
					return false
				}
			default:
				return false // unknown conditions never hold (TestIAMPolicies reports them)
			}
		}
	}
	return true
}

// stringLike is IAM's StringLike: case-sensitive, * matches any run of characters (none
// included), ? any one character.
func stringLike(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if stringLike(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && stringLike(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == pattern[0] && stringLike(pattern[1:], s[1:])
	}
}

// actions lists every action the files allow, sorted.
func (e *effective) actions() []string {
	set := map[string]bool{}
	for _, s := range e.statements {
		for _, a := range s.Action {
			set[a] = true
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for a := range set {
			if !yield(a) {
				return
			}
		}
	})
}

// exampleTableARN is the table every policy file names.
func exampleTableARN(t *testing.T) string {
	t.Helper()
	return loadPolicy(t, "sidecar-read-only.json").Statement[0].Resource[0]
}
