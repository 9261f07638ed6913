#!/usr/bin/env bash
# Images the real node needs before any pod can start: the sandbox ("pause")
# image, built from hack/pause as a static binary, the only file of the
# image (hack/ociimage), and imported into the node's containerd. The
# archive is kept in bin/images/ (it survives cluster-down); rebuilding it
# is a cached `go build` and gives the same bytes.
#
#   images.sh   build and import
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

work="${IMAGE_CACHE_DIR}/pause"
mkdir -p "${work}"
(
  cd "${CLUSTER_REPO_ROOT}"
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${work}/pause" ./hack/pause
  go run ./hack/ociimage -tag "${PAUSE_IMAGE}" -out "${IMAGE_CACHE_DIR}/pause.tar" \
    -file "${work}/pause:/pause:0755" -entrypoint /pause
)
"${HERE}/import-image.sh" "${IMAGE_CACHE_DIR}/pause.tar"
