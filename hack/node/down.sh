#!/usr/bin/env bash
# Tears the real node down, piece by piece in reverse, then checks that it
# left nothing behind (leftovers.sh) and fails, listing what remains, if it
# did. Idempotent.
#
#   down.sh processes   kubelet, CoreDNS, kube-proxy, every container,
#                       containerd and its shims; the pods' mounts and cgroups
#   down.sh network     the node's network namespace and what CNI cached on
#                       the host; then the check
#   down.sh             both
#
# hack/cluster-down.sh (and cluster-up.sh when it fails) runs the two halves
# around stopping the control plane: see stop_all in hack/cluster/lib.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

[[ -f "${NODE_ENV}" ]] || exit 0
phase="${1:-all}"
[[ "${phase}" =~ ^(processes|network|all)$ ]] || die "usage: $0 [processes|network]"

# Every step runs even when one before it failed: the more is removed, the
# shorter the list of leftovers a human has to deal with.
failed=()
step() { "${HERE}/$1" "${@:2}" || failed+=("$1 $2"); }
if [[ "${phase}" != network ]]; then
  step kubelet.sh stop      # first: it would restart what is killed below
  step coredns.sh stop
  step kube-proxy.sh stop
  step containerd.sh stop   # every container, containerd, its shims
  step kubelet.sh clean     # the pods' volumes, cgroups, log links
fi
if [[ "${phase}" != processes ]]; then
  step network.sh stop      # the namespace with bridge, veth, rules
fi
((${#failed[@]} == 0)) || log "node teardown steps failed: ${failed[*]}"
if [[ "${phase}" != processes ]]; then
  "${HERE}/leftovers.sh"
fi
((${#failed[@]} == 0))
