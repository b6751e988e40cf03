package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
