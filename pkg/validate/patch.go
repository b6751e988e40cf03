package validate

import (
	"strings"

	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/merge"
)

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
	r := &resolver{merged: &merge.Merged{}}
	checker{r: r, e: &config.Entry{Kind: config.KindManifest}}.manifest(obj)
	out := make([]string, 0, len(r.problems))
	for _, p := range r.problems {
		if p.Path == "metadata.name" {
			continue // validated before the patch, by the rules of its entry
		}
		out = append(out, strings.TrimPrefix(p.Path+": "+p.Msg, ": "))
	}
	return out
}
