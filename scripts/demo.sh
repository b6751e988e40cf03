#!/usr/bin/env bash
# The main job on the embedded example: start DynamoDB Local, create the table, publish the
# example layers (examples/layers: global, env/dev, cluster/dev-k3s), then run `generate`
# exactly as argocd-cmp-server runs it for an Application of the "platform" project, and stop
# the server. What it prints on stdout, for a person: a summary (cluster, configVersion,
# objects by kind) and the objects as YAML. The exact stream Argo CD receives (JSON, one object
# per line) is kept in bin/demo/generate.jsonl (DYNAMO_CMP_DEMO_OUT). Progress goes to stderr.
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

out=${DYNAMO_CMP_DEMO_OUT:-$root/bin/demo}
mkdir -p "$out"
stream=$out/generate.jsonl
yaml=$out/generate.yaml

# What argocd-cmp-server does: run `generate` in the Application's environment (no other
# variables) and read its stdout.
argocd_generate() {
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${aws_env[@]}" \
    ARGOCD_APP_NAME=dev-k3s-bootstrap ARGOCD_APP_NAMESPACE=default ARGOCD_APP_PROJECT_NAME=platform \
    ARGOCD_APP_REVISION=HEAD ARGOCD_APP_SOURCE_REPO_URL=https://git.example.com/platform/bootstrap.git \
    ARGOCD_APP_SOURCE_PATH=. ARGOCD_APP_SOURCE_TARGET_REVISION=HEAD KUBE_VERSION=1.34.4 \
    KUBE_API_VERSIONS=v1,apps/v1,rbac.authorization.k8s.io/v1,networking.k8s.io/v1,projectcalico.org/v3,argoproj.io/v1alpha1 \
    ARGOCD_APP_PARAMETERS='[{"name":"cluster","string":"dev-k3s"}]' PARAM_CLUSTER=dev-k3s \
    "$bin" generate "$@"
}
echo "== dynamo-cmp generate, with the environment argocd-cmp-server gives it" >&2
argocd_generate >"$stream"
argocd_generate -o yaml >"$yaml"

echo "== dynamo-cmp clusters list" >&2
clusters=$(env "${aws_env[@]}" "$bin" clusters list)
# The demo registers one cluster: its configVersion is the one "configVersion" of the JSON list.
version=$(env "${aws_env[@]}" "$bin" clusters list -o json | sed -n 's/^ *"configVersion": "\([^"]*\)".*/\1/p')

objects=$(grep -c . "$stream")
# Top-level apiVersion/kind lines of the YAML documents (nested ones are indented).
kinds=$(awk '/^apiVersion: /{api=$2} /^kind: /{print $2 " (" api ")"}' "$yaml")
if [ "$(grep -c . <<<"$kinds")" != "$objects" ]; then
  echo "demo: generate printed $objects JSON objects but $(grep -c . <<<"$kinds") YAML documents" >&2
  exit 1
fi

summary() {
  echo "Cluster dev-k3s at configVersion $version: $objects objects."
  echo "Argo CD receives them as the JSON stream \`generate\` prints (argocd-cmp-server reads its"
  echo "stdout, one object per line); that exact stream is in ${stream#"$root"/}."
}
echo
summary
echo
echo "Registered clusters (dynamo-cmp clusters list):"
echo "$clusters"
echo
echo "Objects by kind:"
sort <<<"$kinds" | uniq -c | sort -k1,1nr -k2 | sed 's/^ */  /'
echo
echo "The objects as YAML (\`generate -o yaml\`, also in ${yaml#"$root"/}):"
echo
cat "$yaml"
echo
echo "== summary (the YAML is above)"
summary
echo "Offline, from the layer files alone: bin/dynamo-cmp render -f examples/layers --cluster dev-k3s"
