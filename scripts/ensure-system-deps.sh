#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real, when they are absent:
# docker-registry (the CNCF distribution registry), apache2-utils (htpasswd),
# chromium (headless, opens the simulator's HTML report: tests/simulator/test_report_browser.py)
# and zsh (the syntax check of `werfop completion zsh`).
set -euo pipefail
missing=()
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
        echo "ensure-system-deps: need root to install: ${missing[*]}" >&2; exit 1
    fi
else SUDO=(); fi
echo "ensure-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
