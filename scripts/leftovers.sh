#!/usr/bin/env bash
# Fails when a process of the test suite outlived it: a test server (DynamoDB Local, etcd,
# kube-apiserver, Argo CD, redis, the OCI registry, dynamo-cmp serve), a test binary, or a
# container the e2e suite started. Every server a test starts must die with the test process
# (a parent-death signal: internal/testkit.StartChild, e2e/harness.StartChild); one that does
# not piles up on CI machines run after run.
#
#   scripts/leftovers.sh [--since EPOCH] [--wait SECONDS] [--kill]
#
#   --since EPOCH   only processes started at or after EPOCH (`date +%s` before the run);
#                   without it, any such process left on the machine
#   --wait SECONDS  give processes that are ending (a test's last cleanup, the container
#                   reaper) up to SECONDS to go before reporting them (default 20)
#   --kill          after listing them, kill the processes by PID and remove the containers
#
# A process whose ancestors include a running Go test binary or `go test` belongs to a test
# still running (another checkout on the machine) and is not reported. `make leftovers` runs
# this after `make test`; .ci/run runs it after every run.
set -uo pipefail

since=0 wait=20 kill=0
while [ $# -gt 0 ]; do
  case "$1" in
    --since) since=${2:?--since needs a value}; shift 2 ;;
    --wait) wait=${2:?--wait needs a value}; shift 2 ;;
    --kill) kill=1; shift ;;
    *) echo "usage: $0 [--since EPOCH] [--wait SECONDS] [--kill]" >&2; exit 2 ;;
  esac
done

# What the suite starts, as `ps -o args` shows it, anchored at the program (a `go build` of
# kube-apiserver is not one): the processes the project's hook looks for, and more.
servers='^[^ ]*java .*DynamoDBLocal\.jar|^([^ ]*/)?(kube-apiserver|etcd|redis-server|argocd|argocd-cmp-server)( |$)|^[^ ]*dynamo-cmp-registry-[^ /]*/registry( |$)|^([^ ]*/)?dynamo-cmp serve( |$)|^[^ ]*\.test( |$)'
# A running test (its own servers are its business).
runners='^([^ ]*/)?go test |^[^ ]*\.test( |$)'

list() {
  local now
  now=$(date +%s)
  ps -eo pid=,ppid=,etimes=,args= 2>/dev/null | awk -v self=$$ -v now="$now" -v since="$since" \
    -v servers="$servers" -v runners="$runners" '
    { pid=$1; ppid[pid]=$2; age[pid]=$3; a=$0; sub(/^ *[0-9]+ +[0-9]+ +[0-9]+ /, "", a); args[pid]=a; order[++n]=pid }
    END {
      for (i = 1; i <= n; i++) {
        p = order[i]
        if (p == self || args[p] !~ servers || now - age[p] < since) continue
        # The machine'"'"'s own redis service (Debian starts one on 6379) is not the suite'"'"'s.
        if (args[p] ~ /redis-server .*:6379( |$)/) continue
        # A test binary whose parent still runs (go test, a shell, timeout) is a test running.
        if (args[p] ~ /^[^ ]*\.test( |$)/ && ppid[p] > 1 && (ppid[p] in ppid)) continue
        # Skip it if an ancestor is a running test, or this check.
        owned = 0
        for (q = ppid[p]; q > 1 && (q in ppid); q = ppid[q]) if (q == self || args[q] ~ runners) { owned = 1; break }
        if (owned) continue
        printf "%s\t%s\t%s\n", p, age[p], substr(args[p], 1, 240)
      }
    }'
}

containers() {
  command -v podman >/dev/null 2>&1 || return 0
  local name pid
  podman ps --all --filter name=dynamo-cmp-e2e- --format '{{.Names}} {{index .Labels "dynamo-cmp-e2e.pid"}}' 2>/dev/null |
    while read -r name pid; do
      # The container of a test process still running is that test's.
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
      echo "$name"
    done
}

end=$(( $(date +%s) + wait ))
while :; do
  procs=$(list)
  ctrs=$(containers)
  if [ -z "$procs" ] && [ -z "$ctrs" ]; then exit 0; fi
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 1
done

{
  echo "leftovers: these processes of the test suite outlived it (a test or script started them and they did not die with it):"
  if [ -n "$procs" ]; then
    printf '  %-8s %-8s %-40s %s\n' PID AGE_S CWD COMMAND
    while IFS=$'\t' read -r pid age args; do
      cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || echo "?")
      printf '  %-8s %-8s %-40s %s\n' "$pid" "$age" "$cwd" "$args"
    done <<<"$procs"
  fi
  [ -n "$ctrs" ] && { echo "  containers (podman) whose test process is gone:"; sed 's/^/    /' <<<"$ctrs"; }
  echo "Start every test server through internal/testkit.StartChild or e2e/harness.StartChild (a parent-death signal), and exec the server from any script in between."
} >&2

if [ "$kill" = 1 ]; then
  [ -n "$procs" ] && cut -f1 <<<"$procs" | xargs -r kill -9 2>/dev/null
  [ -n "$ctrs" ] && xargs -r podman rm --force --ignore --time 0 <<<"$ctrs" >/dev/null 2>&1
  echo "leftovers: killed them (by PID; containers: podman rm)." >&2
fi
exit 1
