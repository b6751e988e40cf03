package store

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamo-cmp/dynamo-cmp/internal/oneline"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// DynamoDB's limits on one item ("Constraints in Amazon DynamoDB", developer guide). An
// entry that breaks one is refused before a version number is claimed: DynamoDB would
// refuse the write with a ValidationException half-way through the publish, and every
// retry would leave another interrupted version behind.
const (
	// maxItemSize is DynamoDB's item size limit, attribute names included.
	maxItemSize = 400 * 1024
	// maxNesting is how deep maps and lists may nest: DynamoDB allows 32 levels counting
	// the top-level attribute as level 1, so a map or list may sit at most 31 names deep
	// (a top-level attribute holding 31 nested maps is stored, 32 are refused — the
	// boundary TestEntriesOverDynamoDBLimits checks against DynamoDB Local).
	maxNesting = 32
	// maxNameLength bounds attribute names (map keys at every level). DynamoDB documents
	// 64 KB; DynamoDB Local fails with an internal error somewhere between 32 and 64 KB,
	// so the store keeps to 32 KB, far above any real field or label key.
	maxNameLength = 32 * 1024
	// maxSortKey is DynamoDB's limit on a sort key value.
	maxSortKey = 1024
)

// Number magnitudes DynamoDB stores: 1E-130 to 9.9999999999999999999999999999999999999E+125.
const (
	minNumber = 1e-130
	maxNumber = 1e126
)

// itemProblems lists how item breaks DynamoDB's limits on names, nesting and numbers, each
// problem naming the attribute path ("annotations.example.com/x", "rules[2].ports"). The
// messages never quote values.
func itemProblems(item map[string]types.AttributeValue) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(item)) {
		if name == attrPK || name == attrSK {
			continue
		}
		problems = checkValue(problems, []string{showName(name)}, name, item[name])
	}
	return problems
}

func checkValue(problems []string, path []string, name string, v types.AttributeValue) []string {
	switch {
	case name == "" && len(path) > 0:
		problems = append(problems, fmt.Sprintf("%s: an empty field name, which DynamoDB cannot store", joinPath(path)))
	case len(name) > maxNameLength:
		problems = append(problems, fmt.Sprintf("%s: a field name of %d KB, over the %d KB the store allows (DynamoDB: 64 KB)", joinPath(path), (len(name)+1023)/1024, maxNameLength/1024))
	}
	switch t := v.(type) {
	case *types.AttributeValueMemberM, *types.AttributeValueMemberL:
		if len(path) >= maxNesting {
			return append(problems, fmt.Sprintf("%s…: nested deeper than DynamoDB's limit of %d levels: flatten the value", joinPath(path), maxNesting))
		}
		if m, ok := t.(*types.AttributeValueMemberM); ok {
			for _, k := range slices.Sorted(maps.Keys(m.Value)) {
				problems = checkValue(problems, append(path, showName(k)), k, m.Value[k])
			}
		} else {
			for i, e := range t.(*types.AttributeValueMemberL).Value {
				p := append([]string(nil), path...)
				p[len(p)-1] += "[" + strconv.Itoa(i) + "]"
				problems = checkValue(problems, p, "[]", e)
			}
		}
	case *types.AttributeValueMemberN:
		if f, err := strconv.ParseFloat(t.Value, 64); err == nil && f != 0 {
			if a := math.Abs(f); a < minNumber || a >= maxNumber {
				problems = append(problems, fmt.Sprintf("%s: a number of magnitude %.0e, outside the range DynamoDB stores (1e-130 to 9.99e125): quote it as a string", joinPath(path), a))
			}
		}
	}
	return problems
}

// showName keeps a path segment short enough for a one-line message.
func showName(name string) string {
	return oneline.Cut(name, 40)
}

func joinPath(path []string) string {
	if len(path) > 6 {
		return strings.Join(path[:3], ".") + fmt.Sprintf(".(%d more).", len(path)-6) + strings.Join(path[len(path)-3:], ".")
	}
	return strings.Join(path, ".")
}

// itemSize is the size DynamoDB counts for an item: attribute names and values, with its
// per-type overheads (documented in the DynamoDB developer guide, "Item sizes").
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return len(t.Value)
	case *types.AttributeValueMemberN:
		return (len(t.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(t.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range t.Value {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range t.Value {
			n += valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range t.Value {
			n += len(e)
		}
		return n
	default:
		return 0
	}
}

// checkEntryItem refuses an entry item DynamoDB would refuse: what (e.g. "entry
// namespace/x", "draft namespace/x") names it; sk is its sort key, or one as long as it
// will be. It returns nil or a single ErrTooLarge error listing every problem.
func checkEntryItem(what, sk string, item map[string]types.AttributeValue) error {
	problems := itemProblems(item)
	size := itemSize(item) + len(sk)
	if cur, ok := item[attrSK].(*types.AttributeValueMemberS); ok {
		size -= len(cur.Value) // counted once, as sk
	}
	if size > maxItemSize {
		problems = append(problems, fmt.Sprintf("takes %d KB as a DynamoDB item, over DynamoDB's 400 KB item limit: split it into smaller entries", (size+1023)/1024))
	}
	if len(sk) > maxSortKey {
		problems = append(problems, fmt.Sprintf("its kind and key make a sort key of %d bytes, over DynamoDB's %d: use a shorter name", len(sk), maxSortKey))
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		if strings.HasPrefix(problems[0], "takes ") || strings.HasPrefix(problems[0], "its ") {
			return newError(ErrTooLarge, "%s %s", what, problems[0]) // "entry x takes 411 KB ..."
		}
		return newError(ErrTooLarge, "%s: %s", what, problems[0])
	default:
		return newError(ErrTooLarge, "%s breaks DynamoDB's item limits in %d places:\n  %s", what, len(problems), strings.Join(problems, "\n  "))
	}
}

// Table names DynamoDB accepts: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'.
const (
	minTableName = 3
	maxTableName = 255
)

// ErrTableName marks a table name DynamoDB would refuse.
var ErrTableName = errors.New("not a DynamoDB table name (3 to 255 characters: letters, digits, '_', '-' and '.')")

// CheckTableName returns ErrTableName unless DynamoDB accepts name as a table name, so that
// a wrong name is refused before any call instead of coming back as a ValidationException.
func CheckTableName(name string) error {
	if len(name) < minTableName || len(name) > maxTableName {
		return ErrTableName
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ErrTableName
		}
	}
	return nil
}

// CheckEntries runs, without any call, every check Publish makes of entries before it writes
// anything: the entries are well formed (no entry twice, no field named like a key
// attribute) and DynamoDB can store each one (size, nesting, names, numbers). A dry run calls
// it so that it refuses exactly what the publish would refuse. The error names the layer and
// every entry at fault; for limits it is ErrTooLarge.
func CheckEntries(ref config.LayerRef, entries []config.Entry) error {
	if _, _, err := entryItems(ref, entries); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	return nil
}

// entryItems prepares the entries of a new version of ref and builds their items, with the
// version number (not known yet) left out of the sort key. An entry DynamoDB would refuse is
// refused here, before a version is claimed, every such entry at once.
func entryItems(ref config.LayerRef, in []config.Entry) ([]config.Entry, []map[string]types.AttributeValue, error) {
	entries, err := prepareEntries(in)
	if err != nil {
		return nil, nil, err
	}
	pk := layerPK(ref)
	items := make([]map[string]types.AttributeValue, len(entries))
	var unstorable []error
	for i, e := range entries {
		if items[i], err = bodyItem(pk, "", e); err != nil {
			return nil, nil, err
		}
		// The longest sort key the entry can get: its size counts.
		if err := checkEntryItem("entry "+e.ID(), entrySK(9_999_999_999, e.Kind, e.Key), items[i]); err != nil {
			unstorable = append(unstorable, err)
		}
	}
	if len(unstorable) > 0 {
		return nil, nil, &storeError{msg: errors.Join(unstorable...).Error(), kind: ErrTooLarge}
	}
	return entries, items, nil
}
