# Shared by scripts/bench-e2e.sh and scripts/load.sh (sourced): builds dynamo-cmp exactly as
# the image does and the benchmark driver, starts DynamoDB Local, and cleans up on exit.
#   bench_setup          sets BENCH_DIR (scratch), ENDPOINT (DynamoDB Local)
#   install_kustomize    sets KUSTOMIZE (built once into the user's cache from the module proxy)

KUSTOMIZE_VERSION=${KUSTOMIZE_VERSION:-v5.8.2}

bench_setup() {
  BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dynamo-cmp-bench.XXXXXX")
  trap 'scripts/dynamodb-local.sh stop "$BENCH_DIR/ddb" >/dev/null 2>&1 || true; rm -rf "$BENCH_DIR"' EXIT
  echo "bench: building dynamo-cmp (scripts/build.sh) and the driver" >&2
  scripts/build.sh "$BENCH_DIR/dynamo-cmp" bench >&2
  go build -o "$BENCH_DIR/benchcmd" ./cmd/benchcmd
  echo "bench: starting DynamoDB Local (full JIT, as a long-running server)" >&2
  ENDPOINT=$(DYNAMODB_LOCAL_JAVA_OPTS="${DYNAMODB_LOCAL_JAVA_OPTS:--XX:+UseSerialGC -Xmx512m}" \
    scripts/dynamodb-local.sh start "$BENCH_DIR/ddb" | tail -n 1)
}

install_kustomize() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/kustomize-$KUSTOMIZE_VERSION"
  KUSTOMIZE="$cache/kustomize"
  if [ ! -x "$KUSTOMIZE" ]; then
    echo "bench: building kustomize $KUSTOMIZE_VERSION into $cache (once)" >&2
    mkdir -p "$cache"
    (cd "$BENCH_DIR" && GOBIN="$cache" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION")
  fi
}
