#!/usr/bin/env bash
# Builds Argo CD's multi-call binary (github.com/argoproj/argo-cd/v3/cmd, the version the e2e
# module requires) for the full-loop e2e tests, and copies the two scripts the repo-server
# runs from its PATH (hack/git-verify-wrapper.sh, hack/gpg-wrapper.sh) next to it.
#
#   e2e/argocdbin/build.sh [-modfile FILE] [OUTDIR]
#
# -modfile builds the Argo CD version another go.mod of the e2e module requires (FILE relative
# to e2e/, e.g. compat/go.mod for the previous minor: `make e2e-compat`); default go.mod.
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/argocdbin-VERSION (VERSION as
# that go.mod requires it, e.g. argocdbin-v3.6.2): every Argo CD version has its own cache, so
# runs against two versions never rebuild each other's. Prints OUTDIR on stdout when
# everything is there; progress goes to stderr. The component is chosen at run
# time by ARGOCD_BINARY_NAME (argocd-server, argocd-repo-server, argocd-cmp-server,
# argocd-application-controller, argocd-applicationset-controller; unset: the argocd CLI).
# When OUTDIR/stamp matches the hash of the inputs (that go.mod and its go.sum, this
# script, e2e/buildcache.sh, the Go version) nothing is run. Cold: 400–600 CPU-seconds (v3.6.2:
# 391 CPU-s measured 2026-12-07, 4–10 min on 2 cores) and ~2.4 GB of memory; concurrent
# callers wait for each other on a lock file
# (e2e/buildcache.sh holds the cache, stamp and lock logic both builds share).
#
# The go command is the one e2e/go.mod names (`toolchain go1.27.3`: Argo CD 3.6 needs Go
# 1.27): GOTOOLCHAIN=local, as some machines set it, becomes auto here, so the go command
# downloads that toolchain through the module proxy once (~76 MB) instead of refusing.
#
# This is Argo CD's own cmd/main.go, not a slimmer main of ours dispatching only the five
# components and the CLI the harness runs: measured 2026-12-02, dropping dex, notifications,
# commit-server and k8s-auth removes 29 of the 2,287 packages (14 k of 3.5 M source lines, 0.4%),
# because the CLI and argocd-server already import notifications-engine and the cloud SDKs.
# Not worth owning a copy of the dispatch (and its plugin handling) for a few CPU-seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/.." && pwd)
pkg=github.com/argoproj/argo-cd/v3
modfile=go.mod
if [ "${1:-}" = -modfile ]; then
  modfile=${2:?-modfile needs a go.mod path relative to e2e/}
  shift 2
fi
cd "$mod"
[ -f "$modfile" ] || { echo "argocdbin: no $mod/$modfile" >&2; exit 2; }
if [ "$modfile" != go.mod ]; then
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modfile=$modfile"
fi
case ${GOTOOLCHAIN:-} in "" | local) export GOTOOLCHAIN=auto ;; esac
version=$(awk -v p="$pkg" '$1 == p { print $2; exit }' "$modfile")
[ -n "$version" ] || { echo "argocdbin: $modfile requires no $pkg" >&2; exit 2; }
# shellcheck source=../buildcache.sh
source "$mod/buildcache.sh"
buildcache_open "argocdbin-$version" "${1:-}"
buildcache_enter "$modfile" "${modfile%.mod}.sum" "$here/build.sh" -- argocd git-verify-wrapper.sh gpg-wrapper.sh

echo "argocdbin: downloading modules (cold: ~20 s)" >&2
quiet_go mod download
src=$(go list -m -f '{{.Dir}}' $pkg)
ldflags="-s -w -X $pkg/common.version=${version#v} -X $pkg/common.gitTag=$version"
ldflags+=" -X $pkg/common.gitTreeState=clean -X $pkg/common.buildDate=1970-01-01T00:00:00Z"

echo "argocdbin: building Argo CD $version into $out (cold: ~7 min, 2.2 GB RAM; warm: ~15 s)" >&2
start=$SECONDS
# The same build settings as `go test` and `go vet` of the e2e module (no -trimpath, cgo as the
# Go default): the compiled packages of Argo CD, the bulk of the work, are then shared with the
# e2e test binary through the build cache instead of being compiled twice on a cold machine.
quiet_go build -buildvcs=false -ldflags "$ldflags" -o "$out/argocd.tmp" $pkg/cmd
mv -f "$out/argocd.tmp" "$out/argocd"
for f in git-verify-wrapper.sh gpg-wrapper.sh; do
  install -m 0755 "$src/hack/$f" "$out/$f"
done
echo "argocdbin: Argo CD built in $((SECONDS - start)) s" >&2
buildcache_close
