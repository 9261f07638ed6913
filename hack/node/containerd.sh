#!/usr/bin/env bash
# The real node's container runtime: Debian's containerd with runc, as an
# instance of our own. Its socket, root, state, runc state and pod network
# namespaces all live under LOCAL_DIR, so it never touches a system
# containerd (/run/containerd/containerd.sock) or another local cluster's.
#
#   containerd.sh start   write the config, start containerd in the node's
#                         network namespace (its CNI calls must happen there)
#   containerd.sh stop    kill every container, stop containerd, end the
#                         shims it leaves behind, unmount what they mounted
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

CONFIG="${CONTAINERD_DIR}/config.toml"

# set_line <file> <line as `containerd config default` writes it> <new line>:
# replaces exactly one line, keeping its indentation, or fails; so a
# containerd whose defaults read differently fails here, loudly, instead of
# running with a setting silently left at its default.
set_line() {
  local file="$1" old="$2" new="$3" count
  count="$(grep -cxF -- "${old}" <(sed 's/^ *//' "${file}"))" || true
  [[ "${count}" == 1 ]] || die "containerd config default: expected one line '${old}', found ${count:-0}"
  OLD="${old}" NEW="${new}" awk '{
    line = $0; sub(/^ */, "", line)
    if (line == ENVIRON["OLD"]) { match($0, /^ */); print substr($0, 1, RLENGTH) ENVIRON["NEW"] } else print
  }' "${file}" >"${file}.tmp"
  mv "${file}.tmp" "${file}"
}

write_config() {
  local root="${CONTAINERD_DIR}/root" state="${CONTAINERD_DIR}/state"
  mkdir -p "${CONTAINERD_DIR}" "${root}" "${state}"
  containerd config default >"${CONFIG}"
  set_line "${CONFIG}" 'root = "/var/lib/containerd"' "root = \"${root}\""
  set_line "${CONFIG}" 'state = "/run/containerd"' "state = \"${state}\""
  set_line "${CONFIG}" 'address = "/run/containerd/containerd.sock"' "address = \"${CONTAINERD_SOCK}\""
  set_line "${CONFIG}" 'path = "/opt/containerd"' "path = \"${CONTAINERD_DIR}/opt\""
  # Root here lacks CAP_SYS_RESOURCE: the CRI's negative oom_score_adj for
  # the sandbox is refused and every sandbox fails in runc with "can't get
  # final child's PID from pipe: EOF". This clamps it to containerd's own.
  set_line "${CONFIG}" 'restrict_oom_score_adj = false' 'restrict_oom_score_adj = true'
  set_line "${CONFIG}" 'sandbox_image = "registry.k8s.io/pause:3.6"' "sandbox_image = \"${PAUSE_IMAGE}\""
  # Pod network namespaces under our state, not /var/run/netns.
  set_line "${CONFIG}" 'netns_mounts_under_state_dir = false' 'netns_mounts_under_state_dir = true'
  set_line "${CONFIG}" 'bin_dir = "/opt/cni/bin"' "bin_dir = \"${CNI_BIN_DIR}\""
  set_line "${CONFIG}" 'conf_dir = "/etc/cni/net.d"' "conf_dir = \"${CNI_DIR}/net.d\""
  # runc's own state (default /run/containerd/runc) under ours too.
  set_line "${CONFIG}" 'Root = ""' "Root = \"${state}/runc\""
  # kubelet runs with cgroupDriver cgroupfs; there is no systemd here.
  grep -qx ' *SystemdCgroup = false' "${CONFIG}" || die "containerd config default: SystemdCgroup is not false"
}

containerd_ready() { ctr --address "${CONTAINERD_SOCK}" version >/dev/null 2>&1; }

start() {
  require_node_prerequisites
  load_node_env
  # A unix socket path is limited to 108 bytes; containerd also makes
  # <socket>.ttrpc.
  ((${#CONTAINERD_SOCK} < 100)) || die "socket path too long for a unix socket: ${CONTAINERD_SOCK} (move the checkout to a shorter path)"
  write_config
  start_in_node containerd "$(command -v containerd)" --config "${CONFIG}" --log-level warn
  wait_for "containerd answering on ${CONTAINERD_SOCK}" "${READY_TIMEOUT:-180}" containerd containerd_ready
}

# kill_containers: every task in the CRI's namespace, killed and deleted
# through containerd, so each shim exits by itself and removes its socket.
kill_containers() {
  local tasks task
  tasks="$(ctr_node tasks ls -q 2>/dev/null)" || return 0
  [[ -n "${tasks}" ]] || return 0
  log "killing $(wc -l <<<"${tasks}") containers"
  for task in ${tasks}; do
    ctr_node tasks kill --signal SIGKILL "${task}" >/dev/null 2>&1 || true
  done
  for task in ${tasks}; do
    ctr_node tasks delete --force "${task}" >/dev/null 2>&1 || true
  done
}

stop() {
  [[ -f "${NODE_ENV}" ]] || return 0
  load_node_env
  if component_alive containerd; then
    kill_containers
  fi
  stop_component containerd
  # Shims outlive containerd by design; each carries our socket path.
  # shellcheck disable=SC2046 # one pid per word
  kill_pids "containerd shims of ${CONTAINERD_SOCK}" $(pids_with_arg "${CONTAINERD_SOCK}")
  # Whatever a container left running (say, a shim killed before its
  # task), found by the cgroups kubelet gave the pods.
  # shellcheck disable=SC2046
  kill_pids "processes left in the node's cgroups" $(pids_in_node_cgroups)
  local sockets
  sockets="$(shim_sockets)"
  [[ -z "${sockets}" ]] || xargs rm -f <<<"${sockets}"
  # Container root filesystems, sandbox /dev/shm, pod network namespaces.
  unmount_under "${CONTAINERD_DIR}"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
