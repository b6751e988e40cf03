#!/usr/bin/env bash
# `make bench`: render throughput at 100, 1,000 and 10,000 namespaces (time, allocations,
# peak live heap), then the end-to-end comparison with kustomize (scripts/bench-e2e.sh).
# Prints Markdown tables (docs/performance.md shows the last ones measured).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "### Render throughput (merge → validate → render → encode, from layers already read)"
echo
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench '^BenchmarkRender$' -benchmem -benchtime "${BENCHTIME:-5x}" -count 1 ./pkg/render | tee "$out" >&2
go run ./cmd/benchcmd render-table <"$out"
echo
scripts/bench-e2e.sh
