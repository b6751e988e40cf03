#!/usr/bin/env bash
# serve at fleet scale (e2e TestServeFleetBench; docs/performance.md): a real argocd-server
# v3.6.2 holding BENCH_CLUSTERS (default 1,000) × BENCH_APPS_PER_CLUSTER (default 5)
# Applications with synthetic Synced/Healthy statuses, no controller; serve built from
# BENCH_BASE (default: the merge base with main, "before") and from the work tree ("after"),
# interleaved BENCH_ROUNDS times (default 1: before, after); each idle, following a change of
# every cluster, and through a rollout step of every cluster, BENCH_WINDOW_SECONDS (default
# 60) each. Prints a Markdown table; asserts nothing. Runs under nice.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=${BENCH_BASE:-$(git -C "$root" merge-base HEAD main)}
"$root/e2e/kubebin/build.sh" >/dev/null &
kube=$!
"$root/e2e/argocdbin/build.sh" >/dev/null
wait $kube
mkdir -p "$work/before"
git -C "$root" archive "$base" | tar -x -C "$work/before"
(cd "$work/before" && nice -n 10 scripts/build.sh "$work/dynamo-cmp-before" bench >/dev/null)
(cd "$root" && nice -n 10 scripts/build.sh "$work/dynamo-cmp-after" bench >/dev/null)
(cd "$root" && nice -n 10 go build -o "$work/benchcmd" ./cmd/benchcmd)
echo "serve fleet: before = $(git -C "$root" rev-parse --short "$base"), after = the work tree ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD || echo ', modified'))" >&2
cd "$root/e2e"
DYNAMO_CMP_BENCH_SERVE_FLEET="before=$work/dynamo-cmp-before,after=$work/dynamo-cmp-after" \
DYNAMO_CMP_BENCH_BENCHCMD="$work/benchcmd" \
  GOTOOLCHAIN=auto nice -n 10 go test -count=1 -timeout 90m -run '^TestServeFleetBench$' -v . >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
sed -n '/^### serve with/,/^--- /p' "$work/out" | grep -v '^--- '
