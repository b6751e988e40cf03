//go:build tools

// Package argocdbin pins Argo CD's multi-call binary (github.com/argoproj/argo-cd/v3/cmd) in
// the e2e module, so `go build` of it resolves through this module's go.mod, go.sum and
// replace block. build.sh builds it; nothing imports this package.
package argocdbin

import _ "github.com/argoproj/argo-cd/v3/cmd"
