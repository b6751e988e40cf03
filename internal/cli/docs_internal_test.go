package cli

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// TestReadmeListsEveryCommand: the commands table of README.md has a row for every command
// of the binary (a new subcommand must be listed).
func TestReadmeListsEveryCommand(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "| `dynamo-cmp ") {
			rows = append(rows, l)
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if !c.HasSubCommands() {
			path := "`" + c.CommandPath()
			found := false
			for _, r := range rows {
				rest, ok := strings.CutPrefix(r, "| "+path)
				found = found || ok && (strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "`"))
			}
			if !found {
				t.Errorf("README.md's commands table has no row for %s`", path)
			}
			return
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(IOStreams{}, Env{}))
}

// TestPluginDocSplitsAddons: the Application examples of docs/plugin.md follow the split of
// manifests/examples: the add-on Applications (components [addons]) go to the cluster running
// Argo CD, everything else to the target cluster; no example renders add-ons into the target.
func TestPluginDocSplitsAddons(t *testing.T) {
	data, err := os.ReadFile("../../docs/plugin.md")
	if err != nil {
		t.Fatal(err)
	}
	type app struct {
		Spec struct {
			Source struct {
				Plugin struct {
					Name       string `json:"name"`
					Parameters []struct {
						Name  string   `json:"name"`
						Array []string `json:"array"`
					} `json:"parameters"`
				} `json:"plugin"`
			} `json:"source"`
			Destination struct {
				Server    string `json:"server"`
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"destination"`
		} `json:"spec"`
	}
	var bootstrap, addons int
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		for _, doc := range strings.Split(block[1], "\n---\n") {
			var a app
			if err := yaml.Unmarshal([]byte(doc), &a); err != nil || a.Spec.Source.Plugin.Name != "dynamo-cmp-v1" {
				continue
			}
			var components []string
			for _, p := range a.Spec.Source.Plugin.Parameters {
				if p.Name == "components" {
					components = p.Array
				}
			}
			local := a.Spec.Destination.Server == "https://kubernetes.default.svc" || a.Spec.Destination.Name == "in-cluster"
			switch {
			case slices.Equal(components, []string{"addons"}) && local && a.Spec.Destination.Namespace == "argocd":
				addons++
			case len(components) > 0 && !slices.Contains(components, "addons") && !local:
				bootstrap++
			default:
				t.Errorf("docs/plugin.md: an Application renders components %v into %+v; add-ons belong in Argo CD's namespace of its own cluster, the rest in the target cluster:\n%s", components, a.Spec.Destination, doc)
			}
		}
	}
	if bootstrap == 0 || addons == 0 {
		t.Errorf("docs/plugin.md shows %d bootstrap and %d add-on Applications; want the split, one of each", bootstrap, addons)
	}
}
