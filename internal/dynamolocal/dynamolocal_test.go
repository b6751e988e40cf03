package dynamolocal

import (
	"regexp"
	"strings"
	"testing"
)

// These tests need no server.

func TestTableName(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	tests := []string{"TestX", "TestReadCluster/latest,_environment_known", strings.Repeat("é", 300)}
	seen := map[string]bool{}
	for _, test := range tests {
		name := tableName(test)
		if !valid.MatchString(name) {
			t.Errorf("tableName(%q) = %q, not a valid DynamoDB table name", test, name)
		}
		if seen[name] {
			t.Errorf("tableName(%q) = %q again", test, name)
		}
		seen[name] = true
	}
	if a, b := tableName("TestX"), tableName("TestX"); a == b {
		t.Errorf("two tables of one test share the name %q", a)
	}
}
