#!/usr/bin/env bash
# Imports image archives (the docker-archive tars hack/ociimage writes) into
# the real node's containerd, in the namespace the kubelet's CRI reads, so
# pods can use them with imagePullPolicy Never or IfNotPresent.
#
#   hack/node/import-image.sh FILE...
#
# Idempotent and cheap to repeat: an archive already imported into this
# node (same path, size and modification time) whose images are still
# there is skipped. Env: LOCAL_DIR, to pick the cluster (default .local).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

(($# > 0)) || die "usage: $0 IMAGE.tar..."
load_node_env
ctr_node version >/dev/null 2>&1 || die "the node's containerd does not answer on ${CONTAINERD_SOCK}: is the cluster up?"

records="${NODE_DIR}/imported"
mkdir -p "${records}"
# Parallel tests import at once; containerd refuses two writers of one blob.
exec 7>"${records}/.lock"
flock 7

# images_present <names file>: every image an earlier import made exists.
images_present() {
  local have name
  have="$(ctr_node images ls -q)"
  [[ -s "$1" ]] || return 1
  while read -r name; do
    grep -qxF -- "${name}" <<<"${have}" || return 1
  done <"$1"
}

for archive in "$@"; do
  [[ -f "${archive}" ]] || die "${archive}: no such file"
  path="$(realpath "${archive}")"
  key="$(printf '%s %s' "${path}" "$(stat -c '%s %Y' "${path}")" | sha256sum | cut -c1-32)"
  if [[ -f "${records}/${key}" ]] && images_present "${records}/${key}"; then
    log "${archive}: already imported ($(paste -sd' ' "${records}/${key}"))"
    continue
  fi
  start=${SECONDS}
  out="$(ctr_node images import "${path}" 2>&1)" || die "importing ${archive}: ${out}"
  # ctr prints "unpacking <name> (sha256:...)...done" per image.
  sed -n 's/^unpacking \([^ ]*\) (.*/\1/p' <<<"${out}" >"${records}/${key}"
  [[ -s "${records}/${key}" ]] || die "importing ${archive}: no image in it? ctr said: ${out}"
  log "${archive}: imported $(paste -sd' ' "${records}/${key}") in $((SECONDS - start))s"
done
