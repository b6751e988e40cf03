#!/usr/bin/env bash
# The main job on the embedded example: start DynamoDB Local, create the table, publish the
# example layers (examples/layers: global, env/dev, cluster/dev-k3s), then run `generate`
# exactly as argocd-cmp-server runs it for an Application of the "platform" project, print
# the manifests, and stop the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DYNAMO_CMP_BIN:-$root/bin/dynamo-cmp}
[ -x "$bin" ] || { echo "demo: $bin is missing: run 'make demo' (it builds it)" >&2; exit 1; }

state=$(mktemp -d)
trap '"$root/scripts/dynamodb-local.sh" stop "$state"; rm -rf "$state"' EXIT
echo "== starting DynamoDB Local (the official jar, in memory, on 127.0.0.1)" >&2
endpoint=$("$root/scripts/dynamodb-local.sh" start "$state")

# The sidecar's own environment: where the table is, and static keys for DynamoDB Local.
aws_env=(AWS_ENDPOINT_URL_DYNAMODB="$endpoint" AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=demo
  AWS_SECRET_ACCESS_KEY=demo DYNAMO_CMP_TABLE=dynamo-cmp-demo)

echo "== dynamo-cmp table create" >&2
env "${aws_env[@]}" "$bin" table create >&2
for layer in global env/dev cluster/dev-k3s; do
  file=$root/examples/layers/$layer.yaml
  echo "== dynamo-cmp config publish -f examples/layers/$layer.yaml --layer $layer" >&2
  env "${aws_env[@]}" "$bin" config publish -f "$file" --layer "$layer" -m "demo" --actor demo | tail -n 1 >&2
done

echo "== dynamo-cmp generate, with the environment argocd-cmp-server gives it (JSON stream, one object per line)" >&2
env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${aws_env[@]}" \
  ARGOCD_APP_NAME=dev-k3s-bootstrap ARGOCD_APP_NAMESPACE=default ARGOCD_APP_PROJECT_NAME=platform \
  ARGOCD_APP_REVISION=HEAD ARGOCD_APP_SOURCE_REPO_URL=https://git.example.com/platform/bootstrap.git \
  ARGOCD_APP_SOURCE_PATH=. ARGOCD_APP_SOURCE_TARGET_REVISION=HEAD KUBE_VERSION=1.34.4 \
  KUBE_API_VERSIONS=v1,apps/v1,rbac.authorization.k8s.io/v1,networking.k8s.io/v1,projectcalico.org/v3,argoproj.io/v1alpha1 \
  ARGOCD_APP_PARAMETERS='[{"name":"cluster","string":"dev-k3s"}]' PARAM_CLUSTER=dev-k3s \
  "$bin" generate
echo "== done: the same manifests as YAML: bin/dynamo-cmp render -f examples/layers --cluster dev-k3s" >&2
