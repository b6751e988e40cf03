#!/usr/bin/env bash
# End-to-end comparison, as Argo CD runs it: `dynamo-cmp generate` as a fresh process against
# DynamoDB Local for a 100-namespace cluster, against `kustomize build` of the identical
# manifests written to disk (one file per object), run alternately; plus DynamoDB round trips
# and read capacity per generate, and process start-up. Prints Markdown tables.
#
#   scripts/bench-e2e.sh            RUNS=30 NAMESPACES=100 by default; STRICT=1 fails on a missed goal
#
# Needs Go, Java 17 and npm (DynamoDB Local), and the Go module proxy (kustomize is built once
# into the user's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

RUNS=${RUNS:-30}
NAMESPACES=${NAMESPACES:-100}
bench_setup
install_kustomize
strict=()
[ "${STRICT:-0}" = 1 ] && strict=(-strict)
"$BENCH_DIR/benchcmd" e2e -endpoint "$ENDPOINT" -bin "$BENCH_DIR/dynamo-cmp" -kustomize "$KUSTOMIZE" \
  -runs "$RUNS" -namespaces "$NAMESPACES" -dir "$BENCH_DIR/e2e" "${strict[@]}"
