package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// MaxPatterns bounds each list of a policy.
const MaxPatterns = 200

// Policy says what the layers it applies to may render. Every list holds patterns in which
// "*" matches any run of characters. A list left out (or empty) keeps the default policy's
// rule for that field; a wildcard never reaches what the default refuses (kube-* namespaces,
// argoproj.io kinds in extra manifests, the hub as an add-on destination, instance metadata
// and loopback addresses as repositories): a pattern must name it ("kube-system", "kube-*",
// "argoproj.io/AppProject").
type Policy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Layers are the layers the policy applies to: "global", "env/prod", "env/*",
	// "cluster/team-a-*", "*". A layer gets the policy whose patterns match it most closely
	// (exact name, then the name pattern with most literal characters, then "env/*" or
	// "cluster/*", then "*"; ties go to the first name); a layer no policy matches gets the
	// default policy.
	Layers []string `json:"layers"`
	// Kinds are the kinds of object the layers may render, "Kind" (any API group),
	// "group/Kind" or "group/*" ("*": every kind). Add-on Applications are governed by Addons.
	// Default: every kind except argoproj.io kinds in extra manifests.
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces are the namespaces the layers' namespaced objects may be in, and the
	// Namespaces they may render. Default: every namespace but kube-*.
	Namespaces []string `json:"namespaces,omitempty"`
	// ClusterScoped are the cluster-scoped objects other than Namespaces the layers may
	// render, "Kind/name" or "group/Kind/name" ("ClusterRole/team-a-*", "StorageClass/*").
	// Default: every one.
	ClusterScoped []string `json:"clusterScoped,omitempty"`
	// RBAC lifts the default's refusals of role bindings.
	RBAC *RBAC `json:"rbac,omitempty"`
	// Addons govern the Argo CD Applications the layers render on the hub.
	Addons *Addons `json:"addons,omitempty"`
}

// RBAC lifts the default policy's refusals of roles and bindings.
type RBAC struct {
	// Roles are the ClusterRoles the layers may bind although they grant everything
	// (cluster-admin, or a ClusterRole of the render whose rule grants every verb on every
	// resource of every API group), and that they may define so.
	Roles []string `json:"roles,omitempty"`
	// Subjects are the system:* users and groups ("system:authenticated", "system:masters")
	// the layers may bind roles to.
	Subjects []string `json:"subjects,omitempty"`
}

// Addons govern Argo CD Applications: the add-ons' and any Application in extra manifests.
type Addons struct {
	// Projects are the Argo CD projects an Application may be in. Default: the projects the
	// cluster record of the cluster being rendered names.
	Projects []string `json:"projects,omitempty"`
	// Destinations are where an Application may deploy to. Default: the cluster being
	// rendered (by name), in any namespace but kube-*.
	Destinations []Destination `json:"destinations,omitempty"`
	// SourceRepos are the repositories (repoURL) an Application may install from. Default:
	// any but loopback, link-local and instance metadata addresses.
	SourceRepos []string `json:"sourceRepos,omitempty"`
}

// Destination is an Argo CD destination pattern: a cluster name or a server URL, and a
// namespace. "${cluster.name}" stands for the cluster being rendered.
type Destination struct {
	Name   string `json:"name,omitempty"`
	Server string `json:"server,omitempty"`
	// Namespace defaults to "*".
	Namespace string `json:"namespace,omitempty"`
}

// ClusterToken stands for the cluster being rendered in destination patterns.
const ClusterToken = "${cluster.name}"

// Parse reads one policy from YAML or JSON, strictly (an unknown field is an error), and
// checks it; the errors name the field.
func Parse(data []byte) (Policy, error) {
	var p Policy
	if len(bytes.TrimSpace(data)) == 0 {
		return p, errors.New("the policy is empty")
	}
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: ")
		return p, fmt.Errorf("policy: %s", strings.TrimPrefix(msg, "json: "))
	}
	return p, p.Validate()
}

// ParseAll reads the policies of a YAML stream (documents separated by "---"), each as Parse
// does; every problem of every document is returned at once.
func ParseAll(data []byte) (Set, error) {
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	var out Set
	var errs []error
	for i := 0; ; i++ {
		var n kyaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		doc, err := kyaml.NewRNode(&n).MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if string(doc) == "null" {
			continue
		}
		p, err := Parse(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		out = append(out, p)
	}
	seen := map[string]bool{}
	for _, p := range out {
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("policy %s: name: two policies have this name", p.Name))
		}
		seen[p.Name] = true
	}
	if len(out) == 0 && len(errs) == 0 {
		return nil, errors.New("no policy in the file")
	}
	return out, errors.Join(errs...)
}

// Validate checks a policy; the errors name the field.
func (p *Policy) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if msgs := validation.IsDNS1123Label(p.Name); len(msgs) > 0 {
		add("policy %q: name: %s", p.Name, strings.Join(msgs, "; "))
	}
	at := "policy " + p.Name
	if len(p.Layers) == 0 {
		add("%s: layers: at least one layer pattern is needed (\"global\", \"env/*\", \"cluster/team-a-*\", \"*\")", at)
	} else if _, err := config.ParseLayerPatterns(p.Layers); err != nil {
		add("%s: layers: %v", at, err)
	}
	patterns := func(field string, list []string, slashes int) {
		if len(list) > MaxPatterns {
			add("%s: %s: %d patterns, at most %d", at, field, len(list), MaxPatterns)
		}
		for i, s := range list {
			switch {
			case strings.TrimSpace(s) == "":
				add("%s: %s[%d]: empty pattern", at, field, i)
			case strings.ContainsAny(s, " \t\r\n"):
				add("%s: %s[%d]: %q holds white space", at, field, i, s)
			case slashes >= 0 && strings.Count(s, "/") > slashes:
				add("%s: %s[%d]: %q has more than %d \"/\"", at, field, i, s, slashes)
			}
		}
	}
	patterns("kinds", p.Kinds, 1)
	patterns("namespaces", p.Namespaces, 0)
	patterns("clusterScoped", p.ClusterScoped, 2)
	for i, s := range p.ClusterScoped {
		if strings.TrimSpace(s) != "" && !strings.Contains(s, "/") {
			add("%s: clusterScoped[%d]: %q: write Kind/name or group/Kind/name (\"StorageClass/*\")", at, i, s)
		}
	}
	if r := p.RBAC; r != nil {
		patterns("rbac.roles", r.Roles, -1)
		patterns("rbac.subjects", r.Subjects, -1)
	}
	if a := p.Addons; a != nil {
		patterns("addons.projects", a.Projects, 0)
		patterns("addons.sourceRepos", a.SourceRepos, -1)
		if len(a.Destinations) > MaxPatterns {
			add("%s: addons.destinations: %d destinations, at most %d", at, len(a.Destinations), MaxPatterns)
		}
		for i, d := range a.Destinations {
			f := fmt.Sprintf("addons.destinations[%d]", i)
			switch {
			case d.Name == "" && d.Server == "":
				add("%s: %s: give name or server (a pattern; %s is the cluster being rendered)", at, f, ClusterToken)
			case d.Name != "" && d.Server != "":
				add("%s: %s: give name or server, not both (write two destinations)", at, f)
			}
			patterns(f+".namespace", nonEmpty(d.Namespace), 0)
		}
	}
	return errors.Join(errs...)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Set is the policies stored in the table.
type Set []Policy

// For returns the policy of a layer (nil: the default policy): the one whose layer patterns
// match it most closely; ties go to the first name.
func (s Set) For(ref config.LayerRef) *Policy {
	var best *Policy
	bestScore := 0
	for i := range s {
		p := &s[i]
		score := config.LayerPatterns(p.Layers).Specificity(ref)
		if score > bestScore || (score == bestScore && score > 0 && p.Name < best.Name) {
			best, bestScore = p, score
		}
	}
	return best
}
