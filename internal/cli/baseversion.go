package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/layerfile"
)

// A layer document printed by `config get` or `config export` starts with a version header,
// kubectl's resourceVersion idea in a YAML comment:
//
//	# dynamo-cmp: layer=env/dev version=7
//
// `config publish -f` of a file that carries it publishes on condition that the layer is
// still at that version (the read-modify-write guard); --base-version overrides it.

// versionHeader is the header line of version v of layer ref.
func versionHeader(ref config.LayerRef, v int) string {
	return fmt.Sprintf("# dynamo-cmp: layer=%s version=%d\n", ref, v)
}

var versionHeaderLine = regexp.MustCompile(`(?m)^#\s*dynamo-cmp:\s*layer=(\S+)\s+version=(\d+)\s*$`)

// baseVersionFlag adds --base-version to a command that changes a layer.
type baseVersionFlag struct {
	value int
	cmd   *cobra.Command
}

func (b *baseVersionFlag) add(cmd *cobra.Command) {
	b.cmd = cmd
	cmd.Flags().IntVar(&b.value, "base-version", 0, "change the layer only if its head is still at this version (the version config get printed); otherwise exit 3 and change nothing")
}

// get returns the flag's value, or nil when it was not given.
func (b *baseVersionFlag) get() (*int, error) {
	if b.cmd == nil || !b.cmd.Flags().Changed("base-version") {
		return nil, nil
	}
	if b.value < 0 {
		return nil, withCode(ExitUsage, fmt.Errorf("--base-version %d: a version number (0: the layer was never published)", b.value))
	}
	v := b.value
	return &v, nil
}

// baseFromFiles returns the version named by the version headers for ref in the layer files
// (nil when none carries one), as config.ReadFiles read them. Headers naming ref with
// different versions are an error: the files were read from different versions of the layer.
func baseFromFiles(files []layerfile.File, ref config.LayerRef) (*int, error) {
	var found []int
	var where []string
	for _, f := range files {
		for _, m := range versionHeaderLine.FindAllSubmatch(f.Data, -1) {
			if string(m[1]) != ref.String() {
				continue
			}
			v, err := strconv.Atoi(string(m[2]))
			if err != nil {
				return nil, withCode(ExitInvalid, fmt.Errorf("read %s: version header %q: %w", f.Path, m[0], err))
			}
			found = append(found, v)
			where = append(where, f.Path)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	if vs := slices.Compact(slices.Sorted(slices.Values(found))); len(vs) > 1 {
		return nil, withCode(ExitInvalid, fmt.Errorf("the files were read from different versions of %s (version headers %v in %s): publish one version's files, or say which version you edited with --base-version", ref, vs, strings.Join(slices.Compact(where), ", ")))
	}
	return &found[0], nil
}

// Where a change's base version came from.
const (
	baseFlagSource   = "--base-version"
	baseHeaderSource = "the version header of the files"
)

// unknownBase explains a conflict whose base version is above the head and that the layer
// never had (no such version was ever published): nobody changed the layer meanwhile, the base
// is wrong. It is a usage error when --base-version gave it, an invalid file when a version
// header did. Any other error is returned as it is.
func unknownBase(ctx context.Context, st *store.Store, err error, from string) error {
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) || conflict.Expected <= conflict.Actual {
		return err
	}
	if _, rerr := st.ReadVersion(ctx, conflict.Ref, conflict.Expected); !errors.Is(rerr, store.ErrNotFound) {
		return err // it was a version of the layer (rolled back from since), or the read failed
	}
	code, source := ExitUsage, fmt.Sprintf("%s %d", baseFlagSource, conflict.Expected)
	if from == baseHeaderSource {
		code, source = ExitInvalid, fmt.Sprintf("%s (version=%d)", baseHeaderSource, conflict.Expected)
	}
	return withCode(code, fmt.Errorf("%s: layer %s is at version %d and never had version %d: base the change on the version you read (dynamo-cmp config get --layer %s prints the head with its version; config history lists the others); nothing was changed",
		source, conflict.Ref, conflict.Actual, conflict.Expected, conflict.Ref))
}
