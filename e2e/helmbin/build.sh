#!/usr/bin/env bash
# Builds the helm binary Argo CD's repo-server runs for Helm sources (`helm template`,
# `helm pull` from OCI registries), for the app-of-apps e2e tests (e2e/addons_test.go,
# e2e/addons_wave_test.go).
#
#   e2e/helmbin/build.sh [-modfile FILE] [OUTDIR]
#
# The version is the one the Argo CD version of the go.mod (default go.mod; -modfile
# compat/go.mod for the previous minor, as argocdbin/build.sh takes it) ships in its image:
# its module's hack/tool-versions.sh (HELM_VERSION=4.3.2 in v3.6.2, helm4_version=4.2.1 in
# v3.5.8). Built from helm's Go module helm.sh/helm/v4/cmd/helm through the module proxy with
# `go install pkg@version` (helm's own go.mod and go.sum; nothing of ours to pin).
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/helmbin-VERSION. Prints OUTDIR
# on stdout when the binary is there; progress goes to stderr. Up to date (stamp: this
# script, e2e/buildcache.sh, the Go version): nothing is run.
set -euo pipefail

argo=github.com/argoproj/argo-cd/v3
pkg=helm.sh/helm/v4

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/.." && pwd)
modfile=go.mod
if [ "${1:-}" = -modfile ]; then
  modfile=${2:?-modfile needs a go.mod path relative to e2e/}
  shift 2
fi
cd "$mod"
[ -f "$modfile" ] || { echo "helmbin: no $mod/$modfile" >&2; exit 2; }
case ${GOTOOLCHAIN:-} in "" | local) export GOTOOLCHAIN=auto ;; esac
argoversion=$(awk -v p="$argo" '$1 == p { print $2; exit }' "$modfile")
[ -n "$argoversion" ] || { echo "helmbin: $modfile requires no $argo" >&2; exit 2; }
# The Argo CD module is in the module cache once the e2e module's modules are (a download
# of one module otherwise, ~20 MB).
argodir=$(GOFLAGS=-mod=mod go mod download -json "$argo@$argoversion" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
helm=$(sed -n -E 's/^(HELM_VERSION|helm[0-9]*_version)=([0-9][0-9.]*)$/\2/p' "$argodir/hack/tool-versions.sh" | head -n 1)
[ -n "$helm" ] || { echo "helmbin: no helm version in $argo@$argoversion hack/tool-versions.sh" >&2; exit 2; }
version=v$helm
# shellcheck source=../buildcache.sh
source "$mod/buildcache.sh"
buildcache_open "helmbin-$version" "${1:-}"
buildcache_enter "$here/build.sh" -- helm

echo "helmbin: building helm $version (what Argo CD $argoversion ships) into $out (cold: a few minutes; warm: nothing)" >&2
start=$SECONDS
ldflags="-s -w -X $pkg/internal/version.version=$version -X $pkg/internal/version.gitTreeState=clean"
GOBIN="$out" GOFLAGS=-buildvcs=false quiet_go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$version"
echo "helmbin: helm built in $((SECONDS - start)) s" >&2
buildcache_close
