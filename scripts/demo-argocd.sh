#!/usr/bin/env bash
# The whole loop with the real Argo CD v3.6.2 control plane, for a newcomer: DynamoDB Local with
# the example layers, two kube-apiservers, Argo CD (redis, repo-server with the dynamo-cmp
# sidecar, application and applicationset controllers, API server with auth on) and
# `dynamo-cmp serve`; applies the example ApplicationSet, prints the Applications and a few
# objects, publishes a change and shows it arrive, then tears everything down.
# The first run builds Argo CD and kube-apiserver (~10 min cold; cached afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/e2e/kubebin/build.sh" >/dev/null &
kube=$!
"$root/e2e/argocdbin/build.sh" >/dev/null
wait $kube
cd "$root/e2e"
# -v streams the demo's lines as they happen; the harness's own log lines are filtered out.
DYNAMO_CMP_DEMO=1 GOTOOLCHAIN=auto go test -count=1 -timeout 30m -v -run '^TestDemoArgoCD$' . 2>&1 |
  { grep -v '^ok \|^PASS$\|^=== RUN\|^--- PASS\|^harness: \|^    \|^go: downloading\|Adding GroupVersion' || true; }
