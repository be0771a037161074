#!/usr/bin/env bash
# keep-only.sh DIR: remove DIR's siblings, the older builds of the same cache
# (~/.cache/werfop/controlplane/<key>, ~/.cache/werfop/werf/<key>), so each cache holds the
# build the current scripts use and not every build since the machine's first. Prints DIR.
# Does nothing for a directory outside ~/.cache/werfop (a WERFOP_*_DIR of the user's).
set -euo pipefail
dir=${1:?usage: keep-only.sh DIR}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/werfop
if [[ -d $dir && $(dirname "$(dirname "$dir")") == "$cache" ]]; then
    for old in "$(dirname "$dir")"/*; do
        if [[ $old != "$dir" && $old != *.partial && -d $old ]]; then
            echo "keep-only: removing the older build $old" >&2
            rm -rf "$old"
        fi
    done
fi
echo "$dir"
