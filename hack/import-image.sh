#!/usr/bin/env bash
# Imports an image archive (make image's OCI archive, or a docker-archive)
# into the local node's containerd, in the k8s.io namespace the kubelet
# uses, unpacked for this machine's platform, and checks it is listed under
# the expected reference.
#
#   hack/import-image.sh [ARCHIVE [REF]]
#
# ARCHIVE defaults to bin/image/elasticflux.tar and REF to the reference in
# bin/image/elasticflux.ref. The containerd socket is CONTAINERD_ADDRESS,
# else the one the local cluster's env file (.local/env) names.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARCHIVE="${1:-${ROOT}/bin/image/elasticflux.tar}"
REF="${2:-$(cat "${ROOT}/bin/image/elasticflux.ref" 2>/dev/null || true)}"

if [[ -z "${CONTAINERD_ADDRESS:-}" && -f "${LOCAL_DIR:-${ROOT}/.local}/env" ]]; then
	# shellcheck source=/dev/null
	source "${LOCAL_DIR:-${ROOT}/.local}/env"
fi
[[ -n "${CONTAINERD_ADDRESS:-}" ]] || { echo "import-image: no CONTAINERD_ADDRESS and none in .local/env: is the local node up?" >&2; exit 1; }
[[ -S "${CONTAINERD_ADDRESS}" ]] || { echo "import-image: ${CONTAINERD_ADDRESS} is not a socket" >&2; exit 1; }
[[ -f "${ARCHIVE}" ]] || { echo "import-image: ${ARCHIVE} missing: run make image" >&2; exit 1; }
command -v ctr >/dev/null || { echo "import-image: ctr is not installed (Debian package containerd)" >&2; exit 1; }

ctr_() { ctr --address "${CONTAINERD_ADDRESS}" --namespace k8s.io "$@"; }
ctr_ images import --platform "linux/$(go env GOARCH)" "${ARCHIVE}"
if [[ -n "${REF}" ]]; then
	ctr_ images ls --quiet | grep -qxF "${REF}" || { echo "import-image: ${REF} is not listed after the import" >&2; exit 1; }
	echo "imported ${REF}"
fi
