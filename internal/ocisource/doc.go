// Package ocisource builds the placeholder OCI artifact an Argo CD Application with an oci://
// source and the dynamo-cmp plugin points at, and pushes it to a registry. Its one job is
// that artifact: one gzip-compressed tar layer holding one file, in exactly the form the
// Argo CD v3 repo-server extracts and hands to argocd-cmp-server (see docs/install.md,
// "No Git: an OCI source").
package ocisource
