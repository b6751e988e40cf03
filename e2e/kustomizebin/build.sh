#!/usr/bin/env bash
# Builds the kustomize binary Argo CD's repo-server runs for kustomize sources (`kustomize
# build`), for the import adoption e2e test (e2e/import_test.go: a fleet synced from per-cluster
# overlays in Git, then moved to the plugin).
#
#   e2e/kustomizebin/build.sh [-modfile FILE] [OUTDIR]
#
# The version is the one the Argo CD version of the go.mod (default go.mod; -modfile
# compat/go.mod for the previous minor) ships in its image: its module's hack/tool-versions.sh
# (KUSTOMIZE_VERSION=5.8.3 in v3.6.2, kustomize5_version=5.8.1 in v3.5.8). Built from
# kustomize's Go module sigs.k8s.io/kustomize/kustomize/v5 through the module proxy with
# `go install pkg@version`, as e2e/helmbin/build.sh builds helm. OUTDIR defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/kustomizebin-VERSION. Prints OUTDIR on stdout when
# the binary is there; progress goes to stderr. Up to date (stamp: this script,
# e2e/buildcache.sh, the Go version): nothing is run.
set -euo pipefail

pkg=sigs.k8s.io/kustomize/kustomize/v5

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/.." && pwd)
cd "$mod"
case ${GOTOOLCHAIN:-} in "" | local) export GOTOOLCHAIN=auto ;; esac
# shellcheck source=../buildcache.sh
source "$mod/buildcache.sh"
argocd_tool kustomize "$@"
[ "${1:-}" = -modfile ] && shift 2
buildcache_open "kustomizebin-$version" "${1:-}"
buildcache_enter "$here/build.sh" -- kustomize

echo "kustomizebin: building kustomize $version (what Argo CD $argoversion ships) into $out (cold: a minute or two; warm: nothing)" >&2
start=$SECONDS
GOBIN="$out" GOFLAGS=-buildvcs=false quiet_go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/$version" "$pkg@$version"
echo "kustomizebin: kustomize built in $((SECONDS - start)) s" >&2
buildcache_close
