package config

import (
	"fmt"
	"strings"
)

// Problem reports a problem of the patch that only rendering finds, in the form of every
// other validation problem: the layer that set the field, the entry and the field.
func (p *Patch) Problem(field, format string, args ...any) *ValidationError {
	layer := p.OpsLayer
	if field == "target" {
		layer = p.TargetLayer
	}
	return &ValidationError{Problems: []FieldError{{
		Layer: layer, Entry: entryPath(KindPatch, p.Name), Path: field, Msg: fmt.Sprintf(format, args...),
	}}}
}

// OpsField is the name of the field that holds the patch's operations.
func (p *Patch) OpsField() string {
	if p.JSON6902 != nil {
		return "json6902"
	}
	return "strategicMerge"
}

// CheckPatched validates an object a patch produced as if it had been written directly as
// an extra manifest: the refused kinds (a custom "Secret" patched into core v1 is a Secret),
// apiVersion and kind present, the namespace rules of its kind, and the syntax of its labels
// and annotations. It returns one line per problem, each "path: rule", in the order found;
// none when the object is valid.
//
// The caller has checked that the patch kept the object's kind, apiVersion, name and
// namespace, so the name keeps the rules of the entry that rendered it (an RBAC name such as
// "team:reader" is not a DNS name, and needs not be). Every object a patch touches goes
// through it after the patch, so no sequence of entry and patch renders what the entry alone
// could not.
func CheckPatched(obj map[string]any) []string {
	r := &resolver{merged: &Merged{}}
	checker{r: r, e: &Entry{Kind: KindManifest}}.manifest(obj)
	out := make([]string, 0, len(r.problems))
	for _, p := range r.problems {
		if p.Path == "metadata.name" {
			continue // validated before the patch, by the rules of its entry
		}
		out = append(out, strings.TrimPrefix(p.Path+": "+p.Msg, ": "))
	}
	return out
}
