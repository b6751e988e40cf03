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

pkg=helm.sh/helm/v4

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/.." && pwd)
cd "$mod"
case ${GOTOOLCHAIN:-} in "" | local) export GOTOOLCHAIN=auto ;; esac
# shellcheck source=../buildcache.sh
source "$mod/buildcache.sh"
argocd_tool helm "$@"
[ "${1:-}" = -modfile ] && shift 2
buildcache_open "helmbin-$version" "${1:-}"
buildcache_enter "$here/build.sh" -- helm

echo "helmbin: building helm $version (what Argo CD $argoversion ships) into $out (cold: a few minutes; warm: nothing)" >&2
start=$SECONDS
ldflags="-s -w -X $pkg/internal/version.version=$version -X $pkg/internal/version.gitTreeState=clean"
GOBIN="$out" GOFLAGS=-buildvcs=false quiet_go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$version"
echo "helmbin: helm built in $((SECONDS - start)) s" >&2
buildcache_close
