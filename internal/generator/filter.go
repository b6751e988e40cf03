package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/dynamo-cmp/dynamo-cmp/internal/clusterselect"
	"github.com/dynamo-cmp/dynamo-cmp/pkg/config"
)

// Filter keys an ApplicationSet may set in its plugin generator's input.parameters.
const (
	FilterEnvironment   = "environment"
	FilterRegion        = "region"
	FilterLabelSelector = "labelSelector"
	FilterNamePattern   = "namePattern"
)

var filterKeys = []string{FilterEnvironment, FilterLabelSelector, FilterNamePattern, FilterRegion}

// Filter selects the clusters of one generator request, by the rule of clusterselect: every
// condition given must hold; within a list, any value may match.
type Filter clusterselect.Selector

// FieldError is one problem of a request, with the JSON path of the field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ParseFilter reads a plugin generator's input.parameters. Every problem is reported, each
// naming its field; an unknown key is a problem (a typo must not silently select every
// cluster).
func ParseFilter(params map[string]json.RawMessage) (Filter, []FieldError) {
	var f Filter
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(params)) {
		raw := params[k]
		field := "input.parameters." + k
		fail := func(format string, args ...any) {
			errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
		}
		switch k {
		case FilterEnvironment, FilterRegion:
			list, err := stringList(raw)
			if err != nil {
				fail("%v", err)
				continue
			}
			if k == FilterEnvironment {
				f.Environments = list
			} else {
				f.Regions = list
			}
		case FilterLabelSelector:
			var s *string
			if err := json.Unmarshal(raw, &s); err != nil {
				fail("must be a string such as \"tier=gold,team in (a,b)\"")
				continue
			}
			if s == nil || strings.TrimSpace(*s) == "" {
				continue
			}
			sel, err := labels.Parse(*s)
			if err != nil {
				fail("not a label selector: %v", err)
				continue
			}
			f.Selector = sel
		case FilterNamePattern:
			list, err := stringList(raw)
			if err != nil {
				fail("%v", err)
				continue
			}
			for _, p := range list {
				if _, err := path.Match(p, ""); err != nil {
					fail("%q is not a name pattern (shell syntax: *, ?, [a-z])", p)
				}
			}
			f.NamePatterns = list
		default:
			fail("unknown filter key (known keys: %s)", strings.Join(filterKeys, ", "))
		}
	}
	return f, errs
}

// stringList reads a string or a list of non-empty strings (null is no value).
func stringList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if strings.TrimSpace(one) == "" {
			return nil, fmt.Errorf("must not be empty")
		}
		return []string{strings.TrimSpace(one)}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("must be a string or a list of strings")
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("must not hold an empty string")
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out, nil
}

// Empty reports whether the filter selects every cluster.
func (f Filter) Empty() bool { return clusterselect.Selector(f).Empty() }

// Match reports whether the cluster named name, with record c, is selected.
func (f Filter) Match(name string, c config.Cluster) bool {
	return clusterselect.Selector(f).Match(clusterselect.Cluster{Name: name, Environment: c.Environment, Region: c.Region, Labels: c.Labels})
}
