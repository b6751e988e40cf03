// Package shiptest holds the tests that keep what the project ships honest: the container
// image (Dockerfile, static binary, running as uid 999 on a read-only root), the kustomize
// manifests and Helm values under manifests/, the IAM policies under manifests/iam (parsed
// and enforced in front of DynamoDB Local while the real commands run), and the documentation
// (every documented command exists, every error `generate` can print is explained in
// docs/operations.md).
//
// It has no code of its own, only tests: go test ./internal/shiptest/...
// The strict server-side dry-run of the manifests against a real kube-apiserver lives in the
// e2e module (e2e/manifests_test.go).
package shiptest
