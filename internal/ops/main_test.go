package ops_test

import (
	"testing"

	"github.com/dynamo-cmp/dynamo-cmp/internal/dynamolocal"
)

// The store tests of this package share one DynamoDB Local, started by the first that needs it.
func TestMain(m *testing.M) { dynamolocal.Main(m) }
