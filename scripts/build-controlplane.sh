#!/usr/bin/env bash
# Build the real control plane the cluster tier runs: kube-apiserver and
# kube-controller-manager from k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3,
# each through a throw-away wrapper module, from the Go module proxy only.
#
# Cached per machine under ${XDG_CACHE_HOME:-~/.cache}/werfop/controlplane/<key>, where the
# key is the versions plus a hash of this script: a second run builds nothing. Prints the
# directory holding the binaries on stdout (and nothing else), progress on stderr.
# Never commits or downloads a prebuilt binary; never runs `go get -u`.
set -euo pipefail
K8S=${K8S_VERSION:-v1.37.2}
ETCD=${ETCD_VERSION:-v3.7.3}
here=$(cd "$(dirname "$0")" && pwd)
hash=$(sha256sum "$here/build-controlplane.sh" | cut -c1-12)
OUT=${WERFOP_CONTROLPLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/werfop/controlplane/$K8S-etcd$ETCD-$hash}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "build-controlplane: $*" >&2; }

if [[ -x $OUT/kube-apiserver && -x $OUT/kube-controller-manager && -x $OUT/etcd ]]; then
    log "cached in $OUT"; echo "$OUT"; exit 0
fi
command -v go >/dev/null || { log "go is not on PATH (Go 1.26 is needed to build the control plane)"; exit 1; }
start=$SECONDS
mkdir -p "$OUT.partial"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# --- kubernetes: the staging modules are v0.0.0 + `=> ./staging/...` upstream, which a
# dependent ignores; point each at its published v0.X.Y (as cluster-autoscaler does).
mkdir "$W/k8s"; cd "$W/k8s"
go mod init example.invalid/werfop-k8s-testbin >/dev/null 2>&1
KMOD=$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
[[ -f $KMOD ]] || { log "could not download k8s.io/kubernetes@$K8S"; exit 1; }
go mod edit -require="k8s.io/kubernetes@$K8S"
for m in $(sed -n 's#^\s*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$KMOD"); do
    go mod edit -replace="$m=$m@v0.${K8S#v1.}"
done
godebug=$(sed -n 's/^godebug \(.*\)$/\1/p' "$KMOD")
[[ -n $godebug ]] && go mod edit -godebug="$godebug"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
log "resolving the k8s.io/kubernetes@$K8S module graph"
go mod tidy >&2
minor=$(cut -d. -f2 <<<"$K8S")
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    LD+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "building kube-apiserver and kube-controller-manager $K8S"
go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags="$LD" -o "$OUT.partial/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager

# --- etcd: its own module, so its grpc/otel pins cannot move the apiserver's. The root
# package of server/v3 is package main.
mkdir "$W/etcd"; cd "$W/etcd"
go mod init example.invalid/werfop-etcd-testbin >/dev/null 2>&1
go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD"
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
go mod tidy >&2
log "building etcd $ETCD"
go build -trimpath -ldflags="-s -w" -o "$OUT.partial/etcd" go.etcd.io/etcd/server/v3

rm -rf "$OUT"; mv "$OUT.partial" "$OUT"
log "built in $((SECONDS - start)) s: $(du -sh "$OUT" | cut -f1) in $OUT"
echo "$OUT"
