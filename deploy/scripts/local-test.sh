#!/usr/bin/env bash
# `make local-test`: build the operator image, run it on a kind cluster, and run the e2e
# tier (pytest -m e2e) against that cluster.
#
# Environment: KIND_CLUSTER (default werfop-e2e; reused when it exists, kept afterwards),
# IMG (default werfop:e2e), PYTHON (default .venv/bin/python), DOCKER, KIND, KUBECTL.
# Exits 1 and names what is missing when Docker, a running Docker daemon, kind or kubectl
# is absent.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cluster=${KIND_CLUSTER:-werfop-e2e}
img=${IMG:-werfop:e2e}
python=${PYTHON:-.venv/bin/python}
docker=${DOCKER:-docker}
kind=${KIND:-kind}
kubectl=${KUBECTL:-kubectl}

missing=()
if ! command -v "$docker" >/dev/null 2>&1; then
  missing+=("docker: the Docker CLI (https://docs.docker.com/engine/install/)")
elif ! "$docker" info >/dev/null 2>&1; then
  missing+=("a running Docker daemon: \`$docker info\` failed (start dockerd, or join the docker group)")
fi
if ! command -v "$kind" >/dev/null 2>&1; then
  missing+=("kind: Kubernetes in Docker (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)")
fi
if ! command -v "$kubectl" >/dev/null 2>&1; then
  missing+=("kubectl (https://kubernetes.io/docs/tasks/tools/)")
fi
if ! [[ -x $python ]]; then
  missing+=("$python: the project's virtualenv (make venv)")
fi
if ((${#missing[@]})); then
  echo "make local-test cannot run; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "The tiers that need no cluster run with: make test" >&2
  exit 1
fi

if ! "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "==> creating kind cluster $cluster"
  "$kind" create cluster --name "$cluster" --wait 180s
fi
kubeconfig=$(mktemp)
trap 'rm -f "$kubeconfig"' EXIT
"$kind" get kubeconfig --name "$cluster" >"$kubeconfig"
export KUBECONFIG=$kubeconfig

echo "==> building $img"
"$docker" build -t "$img" .
"$kind" load docker-image "$img" --name "$cluster"

echo "==> deploying werfop ($img)"
"$kubectl" apply -f deploy/crd/werf.io_werfbundles.yaml
"$kubectl" wait --for condition=Established crd/werfbundles.werf.io --timeout=60s
KUBECTL=$kubectl deploy/scripts/kustomize.sh "$img" | "$kubectl" apply -f -
"$kubectl" -n werfop-system rollout restart deployment/werfop # pick up a rebuilt :e2e image
"$kubectl" -n werfop-system rollout status deployment/werfop --timeout=180s

echo "==> e2e tier"
status=0
WERFOP_E2E_KUBECONFIG=$kubeconfig "$python" -m pytest -m e2e -q -p no:cacheprovider \
  tests/e2e tests/deploy || status=$?
echo "kind cluster $cluster is kept; delete it with: $kind delete cluster --name $cluster"
exit "$status"
