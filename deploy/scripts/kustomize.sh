#!/usr/bin/env bash
# Print the manifests of deploy/ (`kubectl kustomize`) with the operator image set to IMG.
#
#   deploy/scripts/kustomize.sh registry.example.com/werfop:1.2.3 | kubectl apply -f -
#
# IMG may carry a tag (name:tag), a digest (name@sha256:...) or neither (then :latest).
# kustomize keeps the base's tag when an image is renamed, so IMG is split into the name,
# tag and digest fields of a throwaway overlay.
set -euo pipefail

img=${1:?usage: deploy/scripts/kustomize.sh IMG}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kubectl=${KUBECTL:-kubectl}

name=$img tag="" digest=""
if [[ $img == *@* ]]; then
  name=${img%%@*} digest=${img#*@}
elif [[ ${img##*/} == *:* ]]; then # a colon in the last path segment is a tag, not a port
  name=${img%:*} tag=${img##*:}
else
  tag=latest
fi

overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
# kustomize refuses absolute paths to a base: refer to deploy/ relative to the overlay.
base=$(realpath --relative-to="$overlay" "$here")
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  echo "  - $base"
  echo "images:"
  echo "  - name: werfop"
  echo "    newName: \"$name\""
  if [[ -n $tag ]]; then echo "    newTag: \"$tag\""; fi
  if [[ -n $digest ]]; then echo "    digest: \"$digest\""; fi
} >"$overlay/kustomization.yaml"
"$kubectl" kustomize "$overlay"
