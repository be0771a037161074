#!/usr/bin/env bash
# promtool (Prometheus's rule checker and rule unit-test runner), for
# tests/deploy/test_alert_rules.py: taken out of Debian's `prometheus` package with
# `apt-get download` and `dpkg-deb`, so nothing is installed system-wide and no
# Prometheus server is set up or started (the package's maintainer scripts never run).
# Cached per machine under ${XDG_CACHE_HOME:-~/.cache}/werfop/promtool/<package version>;
# a second run downloads nothing. Prints the path of `promtool` on stdout.
set -euo pipefail
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/werfop/promtool
log() { echo "promtool: $*" >&2; }

for found in "$CACHE"/*/promtool; do
    if [[ -x $found ]]; then log "cached: $found"; echo "$found"; exit 0; fi
done
command -v apt-get >/dev/null || { log "apt-get is needed to fetch Debian's prometheus package"; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"
# apt-get download needs the package lists; refresh them once when it cannot find it.
apt-get download prometheus >/dev/null 2>&1 || {
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; elif command -v sudo >/dev/null; then sudo -n apt-get update -qq; fi
    apt-get download prometheus >/dev/null 2>&1
} || { log "apt-get download prometheus failed"; exit 1; }
deb=$(ls prometheus_*.deb)
version=${deb#prometheus_}; version=${version%.deb}
mkdir -p "$CACHE/$version.tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/$version.tmp" --strip-components=3 ./usr/bin/promtool
rm -rf "${CACHE:?}/$version"; mv "$CACHE/$version.tmp" "$CACHE/$version"
log "extracted from $deb"
echo "$CACHE/$version/promtool"
