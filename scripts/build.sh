#!/usr/bin/env bash
# Builds the dynamo-cmp binary the one way the project builds it: static (CGO_ENABLED=0),
# reproducible paths (-trimpath), stripped, version stamped. Used by `make build` and by
# scripts/image.sh (GOOS/GOARCH set per platform), so the binary tests run is the binary the
# image ships.
#   scripts/build.sh OUTPUT [VERSION]
set -euo pipefail
out=${1:?usage: build.sh OUTPUT [VERSION]}
version=${2:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}
cd "$(dirname "$0")/.."
CGO_ENABLED=0 exec go build -trimpath \
  -ldflags "-s -w -X github.com/dynamo-cmp/dynamo-cmp/internal/cli.Version=${version}" \
  -o "$out" ./cmd/dynamo-cmp
