package policy

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/render"
)

// Names the default policy refuses to bind.
const (
	// ClusterAdmin is Kubernetes' superuser role.
	ClusterAdmin = "cluster-admin"
	systemPrefix = "system:"
	argoGroup    = "argoproj.io"
	rbacGroup    = "rbac.authorization.k8s.io"
)

// Checker judges the objects of one render against the policies of the layers that wrote
// them. Check is told every object (after the patches); Problems returns what was refused,
// every problem of every object, once all were seen. A Checker is used by one render.
type Checker struct {
	set   Set
	model *config.Model
	// rules caches each layer's policy.
	rules map[config.LayerRef]*Policy
	// adminRoles are the ClusterRoles of the render that grant everything.
	adminRoles map[string]bool
	// bindings are judged once every role was seen.
	bindings []binding
	// buf holds the writers of the object being checked.
	buf      []writer
	refusals []refusal
	seen     map[refusalKey]int // index in refusals
}

// binding is a role binding waiting for the roles of the render.
type binding struct {
	obj    object
	writer []writer
}

// CheckerFor returns what render.Layers takes to judge a resolved model by the policies of
// set: NewChecker of the model.
func CheckerFor(set Set) func(*config.Model) render.Checker {
	return func(m *config.Model) render.Checker { return NewChecker(set, m) }
}

// NewChecker returns a Checker of a model's render under the policies set (none: the default
// policy for every layer).
func NewChecker(set Set, model *config.Model) *Checker {
	return &Checker{set: set, model: model, rules: map[config.LayerRef]*Policy{}, adminRoles: map[string]bool{}}
}

// object is what a policy looks at in a rendered object.
type object struct {
	node                              render.Value
	apiVersion, group, kind, ns, name string
	origin                            config.ObjectOrigin
	known                             bool // an entry of the model renders it
}

func (o object) String() string {
	if o.ns != "" {
		return o.kind + " " + o.ns + "/" + o.name
	}
	return o.kind + " " + o.name
}

// writer is a layer that wrote an object, and where: its own entry, or a patch.
type writer struct {
	layer  config.LayerRef
	policy *Policy
	// patch is the patch the layer changed the object with ("" for the entry itself).
	patch string
}

// Check judges one rendered object.
func (c *Checker) Check(y render.Value) {
	md := lookup(y, "metadata")
	o := object{node: y, apiVersion: value(lookup(y, "apiVersion")), kind: value(lookup(y, "kind")),
		ns: value(lookup(md, "namespace")), name: value(lookup(md, "name"))}
	if g, _, ok := strings.Cut(o.apiVersion, "/"); ok {
		o.group = g
	}
	o.origin, o.known = c.model.Origin(o.apiVersion, o.kind, o.ns, o.name)
	writers := c.writers(o)
	addonApp := o.known && o.origin.Kind == config.KindAddon
	isApp := o.group == argoGroup && o.kind == "Application"
	for _, w := range writers {
		if !addonApp {
			c.checkKind(o, w)
			c.checkPlace(o, w)
		}
		if isApp {
			c.checkApplication(o, w)
		}
	}
	if o.group == rbacGroup {
		switch o.kind {
		case "ClusterRole":
			if grantsEverything(y) {
				c.adminRoles[o.name] = true
				for _, w := range writers {
					if !c.rolesAllow(w, o.name) {
						c.refuse(o, w, "rules", fmt.Sprintf("ClusterRole %s grants every verb on every resource, as cluster-admin does", o.name),
							"rbac.roles", o.name)
					}
				}
			}
		case "RoleBinding", "ClusterRoleBinding":
			c.bindings = append(c.bindings, binding{obj: o, writer: slices.Clone(writers)})
		}
	}
}

// Problems judges the bindings (now that every role of the render is known) and returns every
// problem, sorted, or none.
func (c *Checker) Problems() []config.FieldError {
	for _, b := range c.bindings {
		c.checkBinding(b.obj, b.writer)
	}
	c.bindings = nil
	problems := make([]config.FieldError, len(c.refusals))
	for i, r := range c.refusals {
		problems[i] = r.problem()
	}
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Layer < b.Layer
	})
	return problems
}

// writers are the layers that wrote an object: those holding the entry that renders it, and
// those holding a patch whose target selects it. An object no entry claims (which validation
// prevents) is judged by every layer's policy.
func (c *Checker) writers(o object) []writer {
	out := c.buf[:0]
	defer func() { c.buf = out[:0] }()
	layers := o.origin.Layers
	if !o.known {
		for _, l := range c.model.Layers {
			layers = append(layers, l.Ref)
		}
	}
	for _, ref := range layers {
		out = append(out, writer{layer: ref, policy: c.policy(ref)})
	}
	for i := range c.model.Patches {
		pt := &c.model.Patches[i]
		if !targets(pt.Target, o) {
			continue
		}
		for _, ref := range pt.Layers {
			out = append(out, writer{layer: ref, policy: c.policy(ref), patch: pt.Name})
		}
	}
	return out
}

func (c *Checker) policy(ref config.LayerRef) *Policy {
	p, ok := c.rules[ref]
	if !ok {
		p = c.set.For(ref)
		c.rules[ref] = p
	}
	return p
}

// targets reports whether a patch target selects the object (as render applies patches).
func targets(t config.PatchTarget, o object) bool {
	return t.Kind == o.kind &&
		(t.Name == "" || t.Name == o.name) &&
		(t.Namespace == "" || t.Namespace == o.ns) &&
		(t.Group == "" || strings.HasPrefix(o.apiVersion, t.Group+"/"))
}

// --- kinds, namespaces, cluster-scoped objects ---

func (c *Checker) checkKind(o object, w writer) {
	var kinds []string
	if w.policy != nil {
		kinds = w.policy.Kinds
	}
	fromManifest := !o.known || o.origin.Kind == config.KindManifest
	if fromManifest && o.group == argoGroup && !namesKind(kinds, o) {
		gk := o.groupKind()
		c.refuse(o, w, "kind", fmt.Sprintf("%s is an Argo CD object (%s); extra manifests may not render argoproj.io kinds", o, gk), "kinds", gk)
		return
	}
	if len(kinds) > 0 && !matchesKind(kinds, o) {
		gk := o.groupKind()
		c.refuse(o, w, "kind", fmt.Sprintf("%s: the kind %s is not one of the kinds the layer may render", o, gk), "kinds", gk)
	}
}

// groupKind is "group/Kind", or "Kind" for the core group.
func (o object) groupKind() string {
	if o.group == "" {
		return o.kind
	}
	return o.group + "/" + o.kind
}

// matchesKind reports whether a kind pattern matches the object's kind: "Kind" any group's,
// "group/Kind" that group's ("" for the core group).
func matchesKind(patterns []string, o object) bool {
	for _, p := range patterns {
		if g, k, ok := strings.Cut(p, "/"); ok {
			if match(g, o.group) && match(k, o.kind) {
				return true
			}
		} else if match(p, o.kind) {
			return true
		}
	}
	return false
}

// namesKind reports whether a pattern with the API group spelled out matches an argoproj.io
// kind ("argoproj.io/AppProject", "argoproj.io/*").
func namesKind(patterns []string, o object) bool {
	for _, p := range patterns {
		if g, k, ok := strings.Cut(p, "/"); ok && g == o.group && match(k, o.kind) {
			return true
		}
	}
	return false
}

func (c *Checker) checkPlace(o object, w writer) {
	var p *Policy
	if w.policy != nil {
		p = w.policy
	}
	ns, field := o.ns, "metadata.namespace"
	if o.group == "" && o.kind == "Namespace" {
		ns, field = o.name, "namespace"
	}
	if ns == "" {
		// Cluster-scoped.
		if p == nil || len(p.ClusterScoped) == 0 {
			return
		}
		for _, pat := range p.ClusterScoped {
			parts := strings.Split(pat, "/")
			var ok bool
			switch len(parts) {
			case 2:
				ok = match(parts[0], o.kind) && match(parts[1], o.name)
			case 3:
				ok = match(parts[0], o.group) && match(parts[1], o.kind) && match(parts[2], o.name)
			}
			if ok {
				return
			}
		}
		c.refuse(o, w, "name", fmt.Sprintf("%s is a cluster-scoped object the layer may not render", o), "clusterScoped", o.kind+"/"+o.name)
		return
	}
	if o.known && o.origin.Kind == config.KindNamespace {
		field = "/namespace" // the namespace entry's own name, whatever part of it renders o
	} else if o.known && o.origin.Kind != config.KindManifest {
		field = "namespace"
	}
	var allowed []string
	if p != nil {
		allowed = p.Namespaces
	}
	switch {
	case kubeNamespace(ns) && !names(allowed, ns, kubePrefix):
		c.refuse(o, w, field, fmt.Sprintf("%s is in namespace %s; kube-* namespaces belong to Kubernetes and its add-ons", o, ns), "namespaces", ns)
	case len(allowed) > 0 && !kubeNamespace(ns):
		if _, ok := matchAny(allowed, ns); !ok {
			c.refuse(o, w, field, fmt.Sprintf("%s is in namespace %s, not one the layer may render into", o, ns), "namespaces", ns)
		}
	}
}

// --- RBAC ---

// grantsEverything reports whether a role has a rule granting every verb on every resource of
// every API group.
func grantsEverything(y render.Value) bool {
	rules := lookup(y, "rules")
	for i := range rules.Len() {
		r := rules.Index(i)
		if hasStar(lookup(r, "verbs")) && hasStar(lookup(r, "resources")) && hasStar(lookup(r, "apiGroups")) {
			return true
		}
	}
	return false
}

func hasStar(list render.Value) bool {
	for i := range list.Len() {
		if list.Index(i).Text() == "*" {
			return true
		}
	}
	return false
}

func (c *Checker) rolesAllow(w writer, role string) bool {
	if w.policy == nil || w.policy.RBAC == nil {
		return false
	}
	_, ok := matchAny(w.policy.RBAC.Roles, role)
	return ok
}

func (c *Checker) checkBinding(o object, writers []writer) {
	ref := lookup(o.node, "roleRef")
	refKind, refName := value(lookup(ref, "kind")), value(lookup(ref, "name"))
	admin := refKind == "ClusterRole" && (refName == ClusterAdmin || c.adminRoles[refName])
	subjects := lookup(o.node, "subjects")
	for _, w := range writers {
		if admin && !c.rolesAllow(w, refName) {
			what := fmt.Sprintf("%s binds the ClusterRole %s, which grants everything in the cluster", o, refName)
			if refName != ClusterAdmin {
				what = fmt.Sprintf("%s binds the ClusterRole %s, which grants every verb on every resource, as cluster-admin does", o, refName)
			}
			c.refuse(o, w, "roleRef.name", what, "rbac.roles", refName)
		}
		if !subjects.Exists() {
			continue
		}
		for i := range subjects.Len() {
			s := subjects.Index(i)
			kind, name := value(lookup(s, "kind")), value(lookup(s, "name"))
			if (kind != "Group" && kind != "User") || !strings.HasPrefix(name, systemPrefix) {
				continue
			}
			if w.policy != nil && w.policy.RBAC != nil {
				if _, ok := matchAny(w.policy.RBAC.Subjects, name); ok {
					continue
				}
			}
			c.refuse(o, w, "subjects["+strconv.Itoa(i)+"].name",
				fmt.Sprintf("%s binds %s %s, a Kubernetes system %s", o, strings.ToLower(kind), name, strings.ToLower(kind)), "rbac.subjects", name)
		}
	}
}

// --- Argo CD Applications ---

func (c *Checker) checkApplication(o object, w writer) {
	spec := lookup(o.node, "spec")
	addon := o.known && o.origin.Kind == config.KindAddon
	var a *Addons
	if w.policy != nil {
		a = w.policy.Addons
	}
	at := func(addonField, manifestField string) string {
		if addon {
			return addonField
		}
		return manifestField
	}

	// Project.
	project := value(lookup(spec, "project"))
	if project == "" {
		project = "default"
	}
	if a != nil && len(a.Projects) > 0 {
		if _, ok := matchAny(a.Projects, project); !ok {
			c.refuse(o, w, at("project", "spec.project"), fmt.Sprintf("%s is in Argo CD project %s, not one the layer's Applications may use", o, project), "addons.projects", project)
		}
	} else if !slices.Contains(c.model.Cluster.Projects, project) {
		why := fmt.Sprintf("the cluster record of %s names %s", c.model.Cluster.Name, strings.Join(c.model.Cluster.Projects, ", "))
		if len(c.model.Cluster.Projects) == 0 {
			why = fmt.Sprintf("the cluster record of %s names no projects", c.model.Cluster.Name)
		}
		c.refuse(o, w, at("project", "spec.project"), fmt.Sprintf("%s is in Argo CD project %s, and %s", o, project, why), "addons.projects", project)
	}

	// Destination.
	dest := lookup(spec, "destination")
	name, server, ns := value(lookup(dest, "name")), value(lookup(dest, "server")), value(lookup(dest, "namespace"))
	if msg, widen := c.destinationRefused(a, name, server, ns); msg != "" {
		c.refuse(o, w, at("destination", "spec.destination"), fmt.Sprintf("%s deploys to %s: %s", o, describeDestination(name, server, ns), msg), "addons.destinations", widen)
	}

	// Sources.
	var repos []string
	if r := value(lookup(lookup(spec, "source"), "repoURL")); r != "" {
		repos = append(repos, r)
	}
	if srcs := lookup(spec, "sources"); srcs.Exists() {
		for i := range srcs.Len() {
			s := srcs.Index(i)
			if r := value(lookup(s, "repoURL")); r != "" {
				repos = append(repos, r)
			}
		}
	}
	field := at("chart.repoURL", "spec.source.repoURL")
	if addon && !lookup(lookup(spec, "source"), "chart").Exists() {
		field = "git.repoURL"
	}
	for _, repo := range repos {
		host := repoHost(repo)
		var allowed []string
		if a != nil {
			allowed = a.SourceRepos
		}
		if why := forbiddenHost(host); why != "" && !namesHost(allowed, repo, host) {
			c.refuse(o, w, field, fmt.Sprintf("%s installs from %s, %s", o, repo, why), "addons.sourceRepos", repo)
			continue
		}
		if len(allowed) > 0 {
			if _, ok := matchAny(allowed, repo); !ok {
				c.refuse(o, w, field, fmt.Sprintf("%s installs from %s, not a repository the layer's Applications may use", o, repo), "addons.sourceRepos", repo)
			}
		}
	}
}

// destinationRefused says why a destination is refused ("" when it is not) and the pattern
// that would allow it.
func (c *Checker) destinationRefused(a *Addons, name, server, ns string) (string, string) {
	cluster := c.model.Cluster.Name
	self := name == cluster && server == ""
	hub := !self && (name == hubName || isHubServer(server))
	if a == nil || len(a.Destinations) == 0 {
		switch {
		case !self:
			return fmt.Sprintf("an Application of cluster %s must deploy to that cluster (destination.name %s)", cluster, cluster), describeDestination(name, server, ns)
		case kubeNamespace(ns):
			return "kube-* namespaces belong to Kubernetes and its add-ons", describeDestination(ClusterToken, "", ns)
		}
		return "", ""
	}
	for _, d := range a.Destinations {
		dname := strings.ReplaceAll(d.Name, ClusterToken, cluster)
		dserver := strings.ReplaceAll(d.Server, ClusterToken, cluster)
		dns := d.Namespace
		if dns == "" {
			dns = "*"
		}
		switch {
		case d.Name != "" && (name == "" || !match(dname, name)):
			continue
		case d.Server != "" && (server == "" || !match(dserver, server)):
			continue
		case !match(dns, ns):
			continue
		case hub && !(d.Name != "" && dname == name || d.Server != "" && dserver == server):
			continue // the hub must be named, not matched by a wildcard
		case kubeNamespace(ns) && !strings.HasPrefix(literal(dns), kubePrefix):
			continue
		}
		return "", ""
	}
	if hub {
		return "that is the cluster Argo CD runs on, which the layer's Applications may not deploy to", describeDestination(name, server, ns)
	}
	return "not a destination the layer's Applications may use", describeDestination(name, server, ns)
}

func describeDestination(name, server, ns string) string {
	var parts []string
	if name != "" {
		parts = append(parts, "name: "+name)
	}
	if server != "" {
		parts = append(parts, "server: "+server)
	}
	if ns != "" {
		parts = append(parts, "namespace: "+ns)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// --- problems ---

// refuse records that w's policy refuses o. field is the path of the refused value in the
// part of the entry that renders the object (a leading "/": in the entry itself); what says
// what the object does; policyField and value say how to widen the policy to allow it. The
// layers of one entry refused the same thing by the same policy make one problem.
func (c *Checker) refuse(o object, w writer, field, what, policyField, value string) {
	entry, path := o.origin.Entry, joinPath(o.origin.Path.String(), field)
	if rest, ok := strings.CutPrefix(field, "/"); ok {
		path = rest
	}
	if w.patch != "" {
		entry, path = "patches["+w.patch+"]", ""
		what += " (as patched)"
	}
	if entry == "" {
		entry = o.String()
		path = ""
	}
	k := refusalKey{entry: entry, path: path, what: what, policy: w.policy}
	if i, ok := c.seen[k]; ok {
		if r := &c.refusals[i]; !slices.Contains(r.layers, w.layer) {
			r.layers = append(r.layers, w.layer)
		}
		return
	}
	if c.seen == nil {
		c.seen = map[refusalKey]int{}
	}
	c.seen[k] = len(c.refusals)
	c.refusals = append(c.refusals, refusal{refusalKey: k, policyField: policyField, value: value, layers: []config.LayerRef{w.layer}})
}

// refusal is one problem: what one policy refuses of one entry, for the layers named.
type refusal struct {
	refusalKey
	policyField, value string
	layers             []config.LayerRef
}

type refusalKey struct {
	entry, path, what string
	policy            *Policy
}

// problem is the refusal as a validation problem: the layers, the entry and field, what the
// object does, which policy refuses it and how to widen it.
func (r refusal) problem() config.FieldError {
	names := make([]string, len(r.layers))
	for i, l := range r.layers {
		names[i] = l.String()
	}
	var by, how string
	if r.policy == nil {
		by = fmt.Sprintf("the default policy (no policy applies to %s)", strings.Join(names, " or "))
		how = fmt.Sprintf("to allow it, store a policy for %s with %s: [%s] (dynamo-cmp policy put -f FILE)", strings.Join(names, " and "), r.policyField, r.value)
	} else {
		by = "policy " + r.policy.Name
		how = fmt.Sprintf("to allow it, add %s to %s of policy %s (dynamo-cmp policy put -f FILE)", r.value, r.policyField, r.policy.Name)
	}
	return config.FieldError{Layer: strings.Join(names, ", "), Entry: r.entry, Path: r.path,
		Msg: fmt.Sprintf("%s: refused by %s; %s", r.what, by, how)}
}

func joinPath(base, field string) string {
	switch {
	case base == "":
		return field
	case field == "":
		return base
	}
	return base + "." + field
}

// --- helpers over rendered objects ---

// lookup returns the value of a key of a map (nothing when absent or not a map).
func lookup(n render.Value, key string) render.Value { return n.Get(key) }

// value returns a scalar's text ("" for a map, a list or nothing).
func value(n render.Value) string { return n.Text() }
