package clusterselect

import (
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func TestMatch(t *testing.T) {
	gold, _ := labels.Parse("tier=gold")
	c := Cluster{Name: "prod-eu-1", Environment: "prod", Region: "eu-west-1", Labels: map[string]string{"tier": "gold"}}
	for _, tc := range []struct {
		name string
		s    Selector
		want bool
	}{
		{"zero selects every cluster", Selector{}, true},
		{"environment", Selector{Environments: []string{"dev", "prod"}}, true},
		{"other environment", Selector{Environments: []string{"dev"}}, false},
		{"region", Selector{Regions: []string{"us-east-1"}}, false},
		{"labels", Selector{Selector: gold}, true},
		{"any pattern", Selector{NamePatterns: []string{"dev-*", "prod-*"}}, true},
		{"no pattern", Selector{NamePatterns: []string{"dev-*"}}, false},
		{"every condition", Selector{Environments: []string{"prod"}, Selector: gold, NamePatterns: []string{"dev-*"}}, false},
	} {
		if got := tc.s.Match(c); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !(Selector{}).Empty() || (Selector{Regions: []string{"x"}}).Empty() {
		t.Error("Empty: only the zero selector selects every cluster")
	}
}
