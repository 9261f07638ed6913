# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts sourcing this
# Shared helpers for the real node's scripts (hack/node/*.sh). Sourced after
# hack/cluster/lib.sh. The node lives in a network namespace of its own:
#
#   host                                    node network namespace
#   ----                                    ----------------------
#   kube-apiserver on NODE_HOST_IP  <-veth->  NODE_IP: kubelet, CoreDNS,
#   (10.87.<slot>.1)                          (10.87.<slot>.2) kube-proxy,
#   route POD_SUBNET via NODE_IP              containerd; bridge cni0 with
#                                             POD_GATEWAY; pods on POD_SUBNET
#
# Everything it writes lives under LOCAL_DIR/node (git-ignored):
#
#   .local/node/env            sourceable: slot, namespace, addresses, names
#   .local/node/*.kubeconfig   the node's identities (kubelet, kube-proxy, coredns)
#   .local/node/cni/           CNI config and host-local IPAM state
#   .local/node/containerd/    containerd's config, root and state
#   .local/node/kubelet/       kubelet config, root dir, pod logs
#   .local/node/kube-proxy/    kube-proxy config
#   .local/node/coredns/       Corefile
#   .local/run/containerd.sock containerd's own socket (never the system's)

NODE_DIR="${LOCAL_DIR}/node"
NODE_ENV="${NODE_DIR}/env"
CONTAINERD_SOCK="${RUN_DIR}/containerd.sock"
CONTAINERD_DIR="${NODE_DIR}/containerd"
KUBELET_DIR="${NODE_DIR}/kubelet"
CNI_DIR="${NODE_DIR}/cni"
# Debian's containernetworking-plugins install here, not in /opt/cni/bin.
CNI_BIN_DIR="/usr/lib/cni"
# The sandbox ("pause") image, built by hack/node/images.sh from
# hack/pause; nothing is ever pulled.
PAUSE_IMAGE="localhost/pause:1"
# Where images built for the node are kept; under bin/ so they survive
# cluster-down.
IMAGE_CACHE_DIR="${BIN_DIR}/images"
# Host-wide: the slot allocation of every local cluster on this machine.
NODE_SLOT_LOCK="/run/lock/elasticflux-node.lock"

# What load_node_env sets, from NODE_ENV (see network.sh for the values).
NODE_SLOT="" NODE_NETNS="" NODE_NETNS_PATH="" NODE_NETNS_INODE="" NODE_NAME=""
NODE_IP="" NODE_HOST_IP="" NODE_HOST_LINK="" NODE_LINK=""
POD_SUBNET="" POD_GATEWAY="" POD_BRIDGE="" CNI_NETWORK="" NODE_CGROUP_ROOT=""
HOST_IP_FORWARD=""

# load_node_env: the node's addresses and names, as written by
# `hack/node/network.sh start`; fails when there is no node.
load_node_env() {
  [[ -f "${NODE_ENV}" ]] || die "no real node in ${LOCAL_DIR} (${NODE_ENV} missing)"
  # shellcheck source=/dev/null
  source "${NODE_ENV}"
}

# load_cluster_env: ports and the API server URL, as written by cluster-up.
load_cluster_env() {
  [[ -f "${LOCAL_DIR}/env" ]] || die "no cluster in ${LOCAL_DIR} (${LOCAL_DIR}/env missing)"
  # shellcheck source=/dev/null
  source "${LOCAL_DIR}/env"
}

# in_node <command...>: runs a command in the node's network namespace.
in_node() { nsenter "--net=${NODE_NETNS_PATH}" -- "$@"; }

# start_in_node <name> <binary> <args...>: start_process inside the node's
# network namespace.
start_in_node() { PROCESS_NETNS="${NODE_NETNS_PATH}" start_process "$@"; }

# ctr_node <args...>: ctr against the node's containerd, in the namespace
# the CRI uses.
ctr_node() { ctr --address "${CONTAINERD_SOCK}" --namespace k8s.io "$@"; }

# require_node_prerequisites: the host tools the node needs, with the Debian
# packages that provide them.
require_node_prerequisites() {
  local missing=() tool
  for tool in containerd ctr containerd-shim-runc-v2 runc; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  for tool in bridge host-local loopback; do
    [[ -x "${CNI_BIN_DIR}/${tool}" ]] || missing+=("${CNI_BIN_DIR}/${tool}")
  done
  for tool in ip nsenter iptables iptables-save conntrack findmnt; do
    command -v "${tool}" >/dev/null 2>&1 || missing+=("${tool}")
  done
  ((${#missing[@]} == 0)) ||
    die "the real node needs ${missing[*]}: apt-get install containerd runc containernetworking-plugins iptables conntrack iproute2 util-linux"
}

# pids_with_arg <arg>: pids of processes one of whose arguments is exactly
# arg. Used to find containerd's shims, which outlive containerd and carry
# our socket path (`-address <socket>`), without matching anything by name.
pids_with_arg() {
  local want="$1" dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [[ "${pid}" == "$$" || "${pid}" == "${BASHPID}" ]] && continue
    # A process may exit between the glob and the read.
    if { tr '\0' '\n' <"${dir}/cmdline"; } 2>/dev/null | grep -qxF -- "${want}"; then
      echo "${pid}"
    fi
  done
}

# node_cgroup_dirs: the node's cgroup root in every mounted hierarchy (cgroup
# v1 controllers and, in hybrid mode, the unified one). kubelet puts every
# pod under it (cgroupRoot), so two local clusters never share cgroups.
node_cgroup_dirs() {
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -e "${hierarchy}cgroup.procs" ]] || continue
    echo "${hierarchy%/}${NODE_CGROUP_ROOT}"
  done
}

# pids_in_node_cgroups: every process in the node's cgroups, at any depth.
pids_in_node_cgroups() {
  local dir
  for dir in $(node_cgroup_dirs); do
    [[ -d "${dir}" ]] || continue
    find "${dir}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# node_sandbox_ids: the pod sandboxes containerd has not removed, read from
# its root (so this works with containerd dead, too).
node_sandbox_ids() {
  local dir="${CONTAINERD_DIR}/root/io.containerd.grpc.v1.cri/sandboxes"
  [[ -d "${dir}" ]] || return 0
  find "${dir}" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
}

# shim_sockets: the sockets of this node's containerd shims that still
# exist. containerd 1.6 puts them in /run/containerd/s whatever its state
# directory, named sha256(<containerd socket>/<namespace>/<id>); a shim
# that exits cleanly removes its own, a killed one leaves it.
shim_sockets() {
  local id socket base="${CONTAINERD_DIR}/root/io.containerd.grpc.v1.cri"
  for id in $(node_sandbox_ids; find "${base}/containers" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null); do
    socket="/run/containerd/s/$(printf '%s' "${CONTAINERD_SOCK}/k8s.io/${id}" | sha256sum | cut -d' ' -f1)"
    [[ -e "${socket}" ]] && echo "${socket}"
  done
  return 0
}

# cni_cache_files: what libcni cached in /var/lib/cni/results for this node
# (one file per attachment: <network>-<sandbox>-<interface>) that a CNI DEL
# did not remove: those of our network, and of the loopback network the CRI
# sets up in every sandbox.
cni_cache_files() {
  local id f
  for f in /var/lib/cni/results/"${CNI_NETWORK}"-*; do
    [[ -e "${f}" ]] && echo "${f}"
  done
  for id in $(node_sandbox_ids); do
    for f in /var/lib/cni/results/*-"${id}"-*; do
      [[ -e "${f}" ]] && echo "${f}"
    done
  done
  return 0
}

# other_nodes_on_host: whether another local cluster's node runs on this
# machine (each has a network namespace elasticflux-node-<slot>).
other_nodes_on_host() {
  local netns
  for netns in /run/netns/elasticflux-node-*; do
    [[ -e "${netns}" && "${netns}" != "${NODE_NETNS_PATH}" ]] && return 0
  done
  return 1
}

# KUBELET_SHARED_FILES are the paths kubelet does not let us move: its
# device plugin socket and checkpoint. Every local node's kubelet uses
# them; the last node to go removes them.
KUBELET_SHARED_FILES=(/var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint)

# mounts_under <dir>: mount points at or below dir, deepest first.
mounts_under() {
  local dir="$1"
  findmnt -rn -o TARGET | awk -v d="${dir}" '$0 == d || index($0, d "/") == 1' | sort -r
}

# unmount_under <dir>: unmounts everything at or below dir, deepest first.
unmount_under() {
  local dir="$1" target
  while read -r target; do
    [[ -n "${target}" ]] || continue
    umount "${target}" 2>/dev/null || umount -l "${target}" 2>/dev/null || log "could not unmount ${target}"
  done < <(mounts_under "${dir}")
}

# kill_pids <what> <pid...>: SIGKILL and wait briefly until they are gone.
kill_pids() {
  local what="$1" pid i; shift
  (($# > 0)) || return 0
  log "killing ${what}: $*"
  kill -KILL "$@" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    for pid in "$@"; do
      [[ -n "$({ tr -d '\0' <"/proc/${pid}/cmdline"; } 2>/dev/null)" ]] && break
      pid=""
    done
    [[ -z "${pid}" ]] && return 0
    sleep 0.1
  done
}

# The node's processes, in start order.
NODE_COMPONENTS=(containerd kubelet kube-proxy coredns)
