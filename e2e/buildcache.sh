# shellcheck shell=bash
# The cache, stamp and lock logic of the e2e binary builds (e2e/argocdbin/build.sh,
# e2e/kubebin/build.sh), sourced by both after `set -euo pipefail`:
#
#   source "$here/../buildcache.sh"
#   buildcache_open NAME "${1:-}"        # $out: OUTDIR, default ~/.cache/dynamo-cmp/NAME
#   buildcache_enter INPUT... -- BIN...  # up to date: prints $out, exits 0; else holds the lock
#   ... build BIN... into $out ...
#   buildcache_close                     # writes the stamp, prints $out
#
# The stamp is the hash of the INPUT files, this file and the Go version; a build is up to
# date when every BIN in $out is executable and $out/stamp holds that hash. Concurrent
# callers wait for each other on $out/.lock (the e2e harness and `make e2e` rely on it).

# buildcache_open sets out to OUTDIR (or ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/NAME when
# OUTDIR is empty), created, as an absolute path.
buildcache_open() {
  out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/$1}
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
}

# buildcache_enter computes the stamp of the INPUT files (before --); when the BIN files
# (after --) are in $out and the stamp matches, it prints $out and exits the script with 0.
# Otherwise it takes $out/.lock (fd 9, held until the script exits), checks again (a
# concurrent caller may have built while we waited) and removes the stale stamp.
buildcache_enter() {
  local inputs=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
    inputs+=("$1")
    shift
  done
  shift
  buildcache_bins=("$@")
  want=$({ cat "${inputs[@]}" "${BASH_SOURCE[0]}"; go env GOVERSION GOOS GOARCH; } |
    sha256sum | cut -d' ' -f1)
  if buildcache_up_to_date; then
    echo "$out"
    exit 0
  fi
  exec 9>"$out/.lock"
  flock 9
  if buildcache_up_to_date; then # built by a concurrent caller while we waited
    echo "$out"
    exit 0
  fi
  rm -f "$out/stamp"
}

buildcache_up_to_date() {
  local b
  for b in "${buildcache_bins[@]}"; do
    [ -x "$out/$b" ] || return 1
  done
  [ "$(cat "$out/stamp" 2>/dev/null)" = "$want" ]
}

# buildcache_close records the build as up to date and prints $out.
buildcache_close() {
  echo "$want" >"$out/stamp"
  echo "$out"
}

# quiet_go is go without its "go: downloading ..." lines (hundreds on a cold module cache),
# its output on stderr.
quiet_go() {
  go "$@" 2>&1 | { grep -v '^go: downloading ' || true; } >&2
  return "${PIPESTATUS[0]}"
}

# argocd_tool TOOL [-modfile FILE] sets version to the TOOL (helm, kustomize) that the Argo CD
# version FILE (default go.mod, relative to the e2e module, which must be the working
# directory) requires ships in its image — from its module's hack/tool-versions.sh
# (HELM_VERSION=4.3.2 or helm4_version=4.2.1 style lines), as vX.Y.Z — and argoversion to
# that Argo CD version. Exits the script with 2 when either is missing.
argocd_tool() {
  local tool=$1 modfile=go.mod argo=github.com/argoproj/argo-cd/v3 argodir upper v
  if [ "${2:-}" = -modfile ]; then
    modfile=${3:?-modfile needs a go.mod path relative to e2e/}
  fi
  [ -f "$modfile" ] || { echo "${tool}bin: no $PWD/$modfile" >&2; exit 2; }
  argoversion=$(awk -v p="$argo" '$1 == p { print $2; exit }' "$modfile")
  [ -n "$argoversion" ] || { echo "${tool}bin: $modfile requires no $argo" >&2; exit 2; }
  # The Argo CD module is in the module cache once the e2e module's modules are (a download
  # of one module otherwise, ~20 MB).
  argodir=$(GOFLAGS=-mod=mod go mod download -json "$argo@$argoversion" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  upper=$(printf '%s' "$tool" | tr '[:lower:]' '[:upper:]')
  v=$(sed -n -E "s/^(${upper}_VERSION|${tool}[0-9]*_version)=([0-9][0-9.]*)\$/\\2/p" "$argodir/hack/tool-versions.sh" | head -n 1)
  [ -n "$v" ] || { echo "${tool}bin: no $tool version in $argo@$argoversion hack/tool-versions.sh" >&2; exit 2; }
  version=v$v
}
