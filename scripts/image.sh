#!/usr/bin/env bash
# Builds the dynamo-cmp image — linux/amd64 and linux/arm64 as one multi-arch OCI index — with
# podman and writes it as an OCI archive. Used by `make image` and by the e2e harness, so the
# image the tests run is the image that ships.
#
#   scripts/image.sh [OUTPUT [VERSION]]   OUTPUT defaults to bin/dynamo-cmp-image.oci.tar
#   scripts/image.sh --stage DIR [VERSION]  only stage the build context in DIR (for Docker
#                                          buildx; see the Dockerfile)
#
# Beside OUTPUT it writes OUTPUT-without-.oci.tar + .linux-amd64.spdx.json and
# .linux-arm64.spdx.json (the SBOMs the image carries at /usr/share/doc/dynamo-cmp/) and
# .digest (the index's digest, what a deployment pins). Nothing is pulled: the Dockerfile is
# FROM scratch and copies the binaries scripts/build.sh cross-compiles (CGO_ENABLED=0, no
# emulation needed). The build is reproducible: file times and the image's creation time are
# the commit's time (SOURCE_DATE_EPOCH overrides), so the same commit gives the same digest.
#
# podman runs with CONTAINERS_CONF=e2e/podman/containers.conf unless CONTAINERS_CONF is set
# (runc, cgroupfs, no ulimit changes; the machine's own configuration is not touched). The
# images it builds are removed from podman's storage once the archive is written.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

stage_only=""
if [ "${1:-}" = --stage ]; then
  stage_only=1
  shift
  ctx=${1:?usage: image.sh --stage DIR [VERSION]}
  mkdir -p "$ctx"
  ctx=$(cd "$ctx" && pwd)
else
  out=${1:-bin/dynamo-cmp-image.oci.tar}
  mkdir -p "$(dirname "$out")"
  out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
fi
version=${2:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${IMAGE_SOURCE:-https://github.com/dynamo-cmp/dynamo-cmp}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
platforms=(linux/amd64 linux/arm64)

if [ -z "$stage_only" ]; then
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/dynamo-cmp-image-XXXXXX")
fi
name=""
# cleanup_images removes what the build put into podman's storage: the per-platform images
# (found by the digests the list names), then the list.
cleanup_images() {
  [ -n "$name" ] || return 0
  local d
  for d in $(podman manifest inspect "$name" 2>/dev/null | sed -n 's/.*"digest": *"\(sha256:[0-9a-f]*\)".*/\1/p'); do
    podman rmi --ignore "$(podman images --no-trunc --format '{{.ID}} {{.Digest}}' | awk -v d="$d" '$2 == d {print $1; exit}')" >/dev/null 2>&1 || true
  done
  podman manifest rm "$name" >/dev/null 2>&1 || true
  name=""
}
cleanup() {
  cleanup_images
  [ -n "$stage_only" ] || rm -rf "$ctx"
}
trap cleanup EXIT

# The build context: plugin.yaml, and per platform the binary and its SBOM.
install -m 0644 plugin/plugin.yaml "$ctx/plugin.yaml"
for p in "${platforms[@]}"; do
  os=${p%/*} arch=${p#*/}
  dir="$ctx/$os-$arch"
  mkdir -p "$dir"
  GOOS=$os GOARCH=$arch scripts/build.sh "$dir/dynamo-cmp" "$version"
  go run ./cmd/sbomcmd -version "$version" -source "$source_url" -path /usr/local/bin/dynamo-cmp \
    -created "$epoch" -o "$dir/sbom.spdx.json" "$dir/dynamo-cmp"
  # Sources and build output get the commit's time: the layers do not depend on when or
  # where the image was built.
  touch -d "@$epoch" "$dir/dynamo-cmp" "$dir/sbom.spdx.json"
done
touch -d "@$epoch" "$ctx/plugin.yaml"
if [ -n "$stage_only" ]; then
  echo "$ctx"
  exit 0
fi

command -v podman >/dev/null || {
  echo "image.sh: podman is required (Debian: apt-get install podman runc)" >&2
  exit 1
}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/e2e/podman/containers.conf}
# build_and_push builds the platforms into a manifest list of its own name (work trees and
# test processes share podman's storage) and writes the archive. One platform at a time: with
# `--platform a,b` podman adds them to the list in the order their builds finish, which makes
# the index (and its digest) depend on the machine's load.
build_and_push() {
  name="localhost/dynamo-cmp-build-$$-$RANDOM:latest"
  podman manifest create "$name" >/dev/null || return 1
  local p
  for p in "${platforms[@]}"; do
    podman build --quiet --layers=false --identity-label=false --timestamp "$epoch" \
      --platform "$p" --manifest "$name" \
      --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg SOURCE="$source_url" \
      -f "$root/Dockerfile" "$ctx" >/dev/null || return 1
  done
  rm -f "$out.tmp" &&
    podman manifest push --quiet --all --format oci --digestfile "$out.digest.tmp" "$name" "oci-archive:$out.tmp"
}
# The build is reproducible, so a concurrent build of the same commit elsewhere on the machine
# makes images with the same IDs, and its cleanup may remove them under this one: build again.
for attempt in 1 2 3; do
  if build_and_push; then
    break
  fi
  [ "$attempt" -lt 3 ] || exit 1
  echo "image.sh: build or push failed (attempt $attempt), building again" >&2
  cleanup_images
done
mv -f "$out.tmp" "$out"
base=${out%.oci.tar}
mv -f "$out.digest.tmp" "$base.digest"
for p in "${platforms[@]}"; do
  cp "$ctx/${p%/*}-${p#*/}/sbom.spdx.json" "$base.${p%/*}-${p#*/}.spdx.json"
done
echo "image.sh: $out ($(IFS=' '; echo "${platforms[*]}"), version $version, index $(cat "$base.digest"))" >&2
echo "$out"
