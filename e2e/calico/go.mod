// Pins the Calico source module whose CRD manifests (libcalico-go/config/crd) the e2e harness
// turns into projectcalico.org/v3 CRDs at test time. It holds no code and is never built: its
// dependency graph does not resolve outside Calico's own repository, so it is kept out of the
// e2e module. The harness runs `go mod download -json github.com/projectcalico/calico` here,
// and go.sum pins the content (the checksum database cannot be asked for this module here).
// Do not run `go mod tidy` in this directory: with no code it would drop the requirement.
module github.com/dynamo-cmp/dynamo-cmp/e2e/calico

go 1.26.8

require github.com/projectcalico/calico v0.0.0-20251021213802-b1f3c43f8437 // v3.31.0
