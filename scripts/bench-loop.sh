#!/usr/bin/env bash
# Figures of the whole loop with the real Argo CD v3.6.2 control plane (e2e BenchmarkLoop):
# publish → objects changed in the cluster (p50/p95 over DYNAMO_CMP_BENCH_SAMPLES publishes,
# default 20, pinned and latest), objects changed → clusters status shows them (5), new
# cluster published → all its objects present, bad publish in waves with the example's retry
# policy → rollout halted, head rolled back, objects back (5). Printed, never asserted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/e2e/kubebin/build.sh" >/dev/null &
kube=$!
"$root/e2e/argocdbin/build.sh" >/dev/null
wait $kube
cd "$root/e2e"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if GOTOOLCHAIN=auto go test -count=1 -timeout 60m -run '^$' -bench '^BenchmarkLoop$' -benchtime 1x . >"$out" 2>&1; then
  grep '^loop:' "$out"
else
  cat "$out"
  exit 1
fi
