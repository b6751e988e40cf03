#!/usr/bin/env bash
# Builds the real control plane the e2e tests apply manifests to: kube-apiserver
# (k8s.io/kubernetes, a Go `tool` of the e2e module) and etcd (./etcd, a main package of the
# e2e module on go.etcd.io/etcd/server/v3), at the versions the e2e module's go.mod selects:
# the Kubernetes version Argo CD's replace block pins (v1.37.0 with Argo CD v3.6.2) and the
# etcd it pins (v3.7.0).
#
#   e2e/kubebin/build.sh [OUTDIR]
#
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/kubebin. Prints OUTDIR on stdout
# when both binaries are there; progress goes to stderr. When OUTDIR/stamp matches the hash of
# the inputs (the e2e module's go.mod and go.sum, etcd/main.go, this script,
# e2e/buildcache.sh, the Go version) nothing is run at all.
#
# Why in the e2e module, with its Go toolchain and build settings (no -trimpath), and not in a
# module of its own: about 950 of kube-apiserver's 1,850 packages (70% of its source: the
# staging modules, client-go, grpc, protobuf, otel...) are the very packages Argo CD's build
# compiles, at the same versions (adding kube-apiserver and etcd to the module graph changes no
# version Argo CD's packages use — checked with `go list -deps` when updating). After
# argocdbin/build.sh, they come from the build cache: a cold build is ~200 CPU-s instead of
# ~530. Run it after argocdbin/build.sh (`make test` and .ci/run do): run beside it, both
# compile the shared packages at once. Concurrent callers wait for each other on a lock file
# (e2e/buildcache.sh holds the cache, stamp and lock logic the builds share).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mod=$(cd "$here/.." && pwd)
cd "$mod"
# The go command is the one e2e/go.mod names (see argocdbin/build.sh).
case ${GOTOOLCHAIN:-} in "" | local) export GOTOOLCHAIN=auto ;; esac
# shellcheck source=../buildcache.sh
source "$mod/buildcache.sh"
buildcache_open kubebin "${1:-}"
buildcache_enter go.mod go.sum "$here/etcd/main.go" "$here/build.sh" -- kube-apiserver etcd

k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${k8s_version#v*.}
minor=${minor%%.*}
major=${k8s_version#v}
major=${major%%.*}
# -X names variables of k8s.io packages; the etcd binary has none of them and the linker
# ignores what a binary does not contain, so one set of flags serves both.
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=$major -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

echo "kubebin: building kube-apiserver $k8s_version and etcd into $out (cold, after Argo CD's build: ~2 min; warm: seconds)" >&2
start=$SECONDS
rm -rf "$out/.tmp"
# One go command for both: their shared packages are compiled once, both binaries in parallel.
quiet_go build -buildvcs=false -ldflags "$ldflags" -o "$out/.tmp/" k8s.io/kubernetes/cmd/kube-apiserver ./kubebin/etcd
for b in kube-apiserver etcd; do
  mv -f "$out/.tmp/$b" "$out/$b"
done
rmdir "$out/.tmp"
echo "kubebin: kube-apiserver and etcd built in $((SECONDS - start)) s" >&2
buildcache_close
