#!/usr/bin/env bash
# A fleet through the real Argo CD v3.6.2 control plane (e2e TestFleetBench;
# docs/performance.md): BENCH_CLUSTERS (default 50) clusters of 7 objects on one
# kube-apiserver, dynamo-cmp (ApplicationSet + serve, pinned configVersion) against kustomize
# from Git (one directory per cluster, a refresh of every Application after each commit),
# interleaved: bring-up, BENCH_CHANGES (default 5) global changes each, then BENCH_SCOPED
# (default 5; 0 skips) clusters changed alone. Prints Markdown tables; asserts nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/bench-lib.sh
"$root/e2e/kubebin/build.sh" >/dev/null &
kube=$!
"$root/e2e/argocdbin/build.sh" >/dev/null
wait $kube
# Argo CD's native kustomize runs the kustomize on the repo-server's PATH (its image ships
# one): built once into the user's cache, as scripts/bench.sh does.
BENCH_DIR=$(mktemp -d)
trap 'rm -rf "$BENCH_DIR"' EXIT
install_kustomize
out="$BENCH_DIR/out"
cd "$root/e2e"
if DYNAMO_CMP_BENCH_FLEET=1 DYNAMO_CMP_KUSTOMIZE_DIR="$(dirname "$KUSTOMIZE")" \
  GOTOOLCHAIN=auto nice -n 10 go test -count=1 -timeout 120m -run '^TestFleetBench$' -v . >"$out" 2>&1; then
  sed -n '/^### bench-fleet/,/^--- /p' "$out" | grep -v '^--- '
else
  cat "$out"
  exit 1
fi
