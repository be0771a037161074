#!/usr/bin/env bash
# Build werf 2 from its Go module, as werf's own pure-Go dev build does (Taskfile
# build:dev:linux:amd64:go): CGO_ENABLED=0 and the dfrun*/containers_image_openpgp tags.
# Built from a copy of the module (go mod download, then go build ./cmd/werf inside it), so
# werf's own replace directives apply. Cached per machine under
# ${XDG_CACHE_HOME:-~/.cache}/werfop/werf/<version>-<hash of this script>; a second run
# builds nothing. Prints the directory holding `werf` on stdout, progress on stderr.
#
# The pin: v2.75.0, the newest 2.75 release the module proxy serves here (2.75.3, the
# 2-stable release on the day, answers 403 "not available"). Four of its werf-owned
# dependencies are not served at the versions its go.mod names either; each is replaced by
# the nearest one that is (docs/testing.md lists them):
#   github.com/werf/nelm       v1.26.3-0.20260720131644 -> v1.27.1 (what werf 2.75.3 uses)
#   github.com/werf/kubedog    v0.13.1-0.20260616105957 -> v0.13.1-0.20260217150136
#   github.com/werf/common-go  v0.0.0-20260414103517    -> v0.0.0-20251113140850 (nelm's)
#   github.com/werf/copy-recurse v0.3.1 -> v0.2.7, which lacks Options.Parallelism: the one
#     use (buildah image imports, never reached by bundle apply/plan/publish or helm) drops
#     that field, so those copies run one at a time.
set -euo pipefail
WERF=${WERF_VERSION:-v2.75.0}
here=$(cd "$(dirname "$0")" && pwd)
hash=$(sha256sum "$here/build-werf.sh" | cut -c1-12)
OUT=${WERFOP_WERF_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/werfop/werf/$WERF-$hash}
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "build-werf: $*" >&2; }

if [[ -x $OUT/werf ]]; then log "cached in $OUT"; echo "$OUT"; exit 0; fi
command -v go >/dev/null || { log "go is not on PATH (Go 1.26 is needed to build werf)"; exit 1; }
start=$SECONDS
W=$(mktemp -d); trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
(cd "$W" && go mod download -json "github.com/werf/werf/v2@$WERF" >"$W/dl.json") \
    || { log "go mod download github.com/werf/werf/v2@$WERF failed: $(cat "$W/dl.json")"; exit 1; }
src=$(sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p' "$W/dl.json")
cp -r "$src" "$W/werf"; chmod -R u+w "$W/werf"; cd "$W/werf"
go mod edit \
    -replace=github.com/werf/nelm=github.com/werf/nelm@v1.27.1 \
    -replace=github.com/werf/kubedog=github.com/werf/kubedog@v0.13.1-0.20260217150136-ed58edf34eac \
    -replace=github.com/werf/common-go=github.com/werf/common-go@v0.0.0-20251113140850-a1a98e909e9b \
    -replace=github.com/werf/copy-recurse=github.com/werf/copy-recurse@v0.2.7
sed -i '/Parallelism: dependencyImportParallelism(),/d' pkg/container_backend/buildah_backend.go
grep -q dependencyImportParallelism\(\), pkg/container_backend/buildah_backend.go \
    && { log "the copy-recurse substitution no longer applies"; exit 1; }
log "downloading werf's dependencies"
go mod download >&2
log "building werf $WERF"
mkdir -p "$OUT.partial"
go build -trimpath \
    -tags "dfrunsecurity dfrunnetwork dfrunmount dfssh containers_image_openpgp" \
    -ldflags "-s -w -X github.com/werf/werf/v2/pkg/werf.Version=${WERF#v}" \
    -o "$OUT.partial/werf" ./cmd/werf
rm -rf "$OUT"; mv "$OUT.partial" "$OUT"
log "built in $((SECONDS - start)) s: $(du -sh "$OUT" | cut -f1) in $OUT"
echo "$OUT"
