#!/usr/bin/env bash
# Load, as a busy argocd-repo-server makes it: PROCS (50) concurrent `dynamo-cmp generate`
# processes for DURATION (60s) against DynamoDB Local, every output checked byte for byte;
# then the serve ApplicationSet generator API with CLUSTERS (1000) registered clusters under
# POLLERS (20) concurrent pollers for SERVE_DURATION (30s) per cache setting. Prints Markdown
# tables; exits non-zero if any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

bench_setup
"$BENCH_DIR/benchcmd" load -endpoint "$ENDPOINT" -bin "$BENCH_DIR/dynamo-cmp" \
  -procs "${PROCS:-50}" -duration "${DURATION:-60s}" -namespaces "${NAMESPACES:-100}" -dir "$BENCH_DIR/load"
echo
"$BENCH_DIR/benchcmd" serve-load -endpoint "$ENDPOINT" \
  -clusters "${CLUSTERS:-1000}" -pollers "${POLLERS:-20}" -duration "${SERVE_DURATION:-30s}"
