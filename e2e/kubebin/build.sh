#!/usr/bin/env bash
# Builds the real control plane the e2e tests apply manifests to: kube-apiserver
# (k8s.io/kubernetes, version pinned in go.mod) and etcd (./etcd), both from Go modules.
#
#   e2e/kubebin/build.sh [OUTDIR]
#
# OUTDIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/dynamo-cmp/kubebin. Prints OUTDIR on stdout
# when both binaries are there; progress goes to stderr. When OUTDIR/stamp matches the hash of
# this module's inputs (go.mod, go.sum, etcd/main.go, this script, e2e/buildcache.sh, the Go
# version) nothing is run at all. A cold build takes about 4 minutes on 2 cores and ~2 GB of
# memory; concurrent callers wait for each other on a lock file (e2e/buildcache.sh holds the
# cache, stamp and lock logic both builds share).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../buildcache.sh
source "$here/../buildcache.sh"
buildcache_open kubebin "${1:-}"
buildcache_enter "$here/go.mod" "$here/go.sum" "$here/etcd/main.go" "$here/build.sh" -- kube-apiserver etcd

cd "$here"
echo "kubebin: downloading modules (cold: ~15 s, 700 MB)" >&2
quiet_go mod download
k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=${k8s_version#v*.}
minor=${minor%%.*}
major=${k8s_version#v}
major=${major%%.*}
pkg=k8s.io/component-base/version
cgo=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $pkg $cgo; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=$major -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

echo "kubebin: building kube-apiserver $k8s_version into $out (cold: ~5 min, 2 GB RAM; warm: seconds)" >&2
start=$SECONDS
quiet_go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv -f "$out/kube-apiserver.tmp" "$out/kube-apiserver"
echo "kubebin: kube-apiserver built in $((SECONDS - start)) s; building etcd" >&2
start=$SECONDS
quiet_go build -buildvcs=false -trimpath -ldflags "-s -w" -o "$out/etcd.tmp" ./etcd
mv -f "$out/etcd.tmp" "$out/etcd"
echo "kubebin: etcd built in $((SECONDS - start)) s" >&2
buildcache_close
