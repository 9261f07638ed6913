#!/usr/bin/env bash
# The real node's network: a network namespace of its own, joined to the
# host by one veth pair, with the CNI bridge for pods inside it.
#
#   network.sh start   allocate a slot, create the namespace, the veth pair,
#                      the bridge, the host route to the pods and the CNI
#                      config; write LOCAL_DIR/node/env
#   network.sh stop    remove all of it (the namespace takes the bridge, the
#                      veth pair, the route and every iptables rule of
#                      kube-proxy with it) and the CNI plugins' cache files
#
# Why a namespace of its own: kubelet, kube-proxy, containerd's CNI calls
# and CoreDNS then change nothing in the host's network (no bridge, no
# iptables rule, no sysctl: the host's ip_forward stays as it was), several
# local clusters (.local, .local-bench, other checkouts) can each have a node
# at once, and cluster-down removes it all by deleting one namespace.
#
# Why nothing leaves the machine: pods get a default route, as in any
# cluster, to the bridge in the node's namespace; that namespace has no
# default route, only the veth link to the host and the pod subnet, so a
# packet for any other address is dropped there ("network unreachable"); the
# service range is routed to the host link, where kube-proxy's DNAT turns it
# into an address on this machine.
# The host does not forward the pods' packets (they only reach the host
# itself). On top of that the FORWARD guard below lets pods open connections
# to the host only through a Service (the API server behind `kubernetes`),
# not to whatever else listens on the host's addresses.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

# At most this many local clusters with a node on one machine.
MAX_SLOTS=64

# slot_is_free <slot>: no namespace of that slot exists, and no host route
# overlaps its addresses (a bridge someone else made, a VPN, ...).
slot_is_free() {
  local slot="$1" prefix overlap
  [[ -e "/run/netns/elasticflux-node-${slot}" ]] && return 1
  for prefix in "10.88.${slot}.0/24" "10.87.${slot}.0/30"; do
    overlap="$(
      ip -4 route show table all root "${prefix}" 2>/dev/null
      ip -4 route show table all match "${prefix}" 2>/dev/null | grep -v '^default' || true
    )"
    [[ -z "${overlap}" ]] || return 1
  done
}

# Host directories that `ip netns`, libcni, the kubelet (its device plugin
# socket, KUBELET_SHARED_FILES) and containerd's shims create on first use. Those that did not exist before the first node
# on this machine are recorded in HOST_DIRS_MADE and removed, if empty, when
# the last node goes.
HOST_DIRS=(/run/netns /var/lib/cni /var/log/containers /var/lib/kubelet /run/containerd)
HOST_DIRS_MADE="/run/lock/elasticflux-node.dirs"

lock_slots() {
  mkdir -p "$(dirname "${NODE_SLOT_LOCK}")"
  exec 8>"${NODE_SLOT_LOCK}"
  flock 8
}
unlock_slots() { exec 8>&-; }

# allocate_slot: the first free slot, claimed by creating its namespace while
# holding the host-wide lock, so two cluster-ups never take the same one.
allocate_slot() {
  local slot dir
  lock_slots
  if ! compgen -G "/run/netns/elasticflux-node-*" >/dev/null; then
    for dir in "${HOST_DIRS[@]}"; do
      [[ -e "${dir}" ]] || echo "${dir}"
    done >"${HOST_DIRS_MADE}"
  fi
  for ((slot = 0; slot < MAX_SLOTS; slot++)); do
    if slot_is_free "${slot}"; then
      ip netns add "elasticflux-node-${slot}"
      unlock_slots
      echo "${slot}"
      return 0
    fi
  done
  unlock_slots
  die "no free network slot for a node (10.88.0-$((MAX_SLOTS - 1)).0/24 all taken)"
}

# remove_host_dirs_made: once no node is left on the machine, the host
# directories the first one brought into being go, if nothing else put
# anything in them.
remove_host_dirs_made() {
  local dir
  lock_slots
  if [[ -f "${HOST_DIRS_MADE}" ]] && ! compgen -G "/run/netns/elasticflux-node-*" >/dev/null; then
    while read -r dir; do
      [[ -d "${dir}" ]] || continue
      find "${dir}" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
      [[ -z "$(ls -A "${dir}")" ]] || continue
      # `ip netns` mounts /run/netns onto itself to share it.
      if mountpoint -q "${dir}"; then umount "${dir}"; fi
      rmdir "${dir}"
    done <"${HOST_DIRS_MADE}"
    rm -f "${HOST_DIRS_MADE}"
  fi
  unlock_slots
}

write_cni_config() {
  mkdir -p "${CNI_DIR}/net.d" "${CNI_DIR}/ipam"
  # host-local keeps its leases under our directory, not /var/lib/cni.
  # hairpinMode lets a pod reach itself through a Service.
  cat >"${CNI_DIR}/net.d/10-${CNI_NETWORK}.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "${CNI_NETWORK}",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${POD_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${CNI_DIR}/ipam",
        "ranges": [[{"subnet": "${POD_SUBNET}", "gateway": "${POD_GATEWAY}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
JSON
}

# The guard: pods may open connections to the host only through a Service.
# kube-proxy's rules come first (it inserts its jumps at the top); replies
# to connections the host opened (API server -> nothing in pods, but `curl`
# from the host to a pod) are ESTABLISHED.
add_egress_guard() {
  in_node iptables -w -N ELASTICFLUX-POD-EGRESS
  in_node iptables -w -A ELASTICFLUX-POD-EGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  in_node iptables -w -A ELASTICFLUX-POD-EGRESS -m conntrack --ctstate DNAT --ctorigdst "${SERVICE_CIDR}" -j ACCEPT
  in_node iptables -w -A ELASTICFLUX-POD-EGRESS -j REJECT --reject-with icmp-admin-prohibited
  in_node iptables -w -A FORWARD -i "${POD_BRIDGE}" -o "${NODE_LINK}" -j ELASTICFLUX-POD-EGRESS
}

start() {
  require_node_prerequisites
  [[ ! -e "${NODE_ENV}" ]] || die "${NODE_ENV} exists: a node is already set up; run hack/cluster-down.sh"
  mkdir -p "${NODE_DIR}"
  local slot
  slot="$(allocate_slot)"
  # Written first, so a failure from here on is cleaned up by `stop`.
  cat >"${NODE_ENV}" <<ENV
export NODE_SLOT=${slot}
export NODE_NETNS=elasticflux-node-${slot}
export NODE_NETNS_PATH=/run/netns/elasticflux-node-${slot}
export NODE_NAME=elasticflux-node
export NODE_IP=10.87.${slot}.2
export NODE_HOST_IP=10.87.${slot}.1
export NODE_HOST_LINK=ef-node${slot}
export NODE_LINK=eth0
export POD_SUBNET=10.88.${slot}.0/24
export POD_GATEWAY=10.88.${slot}.1
export POD_BRIDGE=cni0
export CNI_NETWORK=elasticflux-node-${slot}
export NODE_CGROUP_ROOT=/elasticflux-node-${slot}
export NODE_NETNS_INODE=$(stat -L -c %i "/run/netns/elasticflux-node-${slot}")
export HOST_IP_FORWARD=$(cat /proc/sys/net/ipv4/ip_forward)
ENV
  load_node_env

  ip link add "${NODE_HOST_LINK}" type veth peer name "${NODE_LINK}" netns "${NODE_NETNS}"
  ip addr add "${NODE_HOST_IP}/30" dev "${NODE_HOST_LINK}"
  ip link set "${NODE_HOST_LINK}" up
  ip route add "${POD_SUBNET}" via "${NODE_IP}" dev "${NODE_HOST_LINK}"

  in_node ip link set lo up
  in_node ip addr add "${NODE_IP}/30" dev "${NODE_LINK}"
  in_node ip link set "${NODE_LINK}" up
  # The node's own connections to Services (kube-proxy's OUTPUT rules
  # rewrite them) need a route to start from; DNAT then sends them on.
  in_node ip route add "${SERVICE_CIDR}" dev "${NODE_LINK}"
  # Made here rather than by the CNI plugin on the first pod, so the guard
  # and the node's routes exist before anything runs.
  in_node ip link add "${POD_BRIDGE}" type bridge
  in_node ip addr add "${POD_GATEWAY}/24" dev "${POD_BRIDGE}"
  in_node ip link set "${POD_BRIDGE}" up
  # Both are per network namespace: set inside the node's, never the host's.
  in_node sysctl -qw net.ipv4.ip_forward=1
  # Pod-to-Service-to-pod on the same bridge needs bridged packets to pass
  # through iptables (kube-proxy's NAT): br_netfilter, which every
  # Kubernetes node loads (kubeadm checks for it). It stays loaded.
  if [[ ! -e /proc/sys/net/bridge ]]; then
    modprobe br_netfilter || die "the kernel module br_netfilter is needed (modprobe br_netfilter failed)"
  fi
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1
  add_egress_guard
  write_cni_config
  log "node network: namespace ${NODE_NETNS}, node ${NODE_IP}, API server side ${NODE_HOST_IP} (${NODE_HOST_LINK}), pods ${POD_SUBNET} on ${POD_BRIDGE}"
}

stop() {
  [[ -f "${NODE_ENV}" ]] || return 0
  load_node_env
  # libcni caches each attachment's result in /var/lib/cni/results; a pod
  # torn down without a CNI DEL leaves its files.
  local cached
  cached="$(cni_cache_files)"
  [[ -z "${cached}" ]] || xargs rm -f <<<"${cached}"
  if [[ -e "${NODE_NETNS_PATH}" ]]; then
    ip netns delete "${NODE_NETNS}"
    log "deleted network namespace ${NODE_NETNS} (bridge, veth pair, routes, iptables rules)"
  fi
  # The namespace's end of the pair took the host's end with it, unless a
  # process still holds the namespace open; then it goes when that one does.
  if ip link show "${NODE_HOST_LINK}" >/dev/null 2>&1; then
    ip link delete "${NODE_HOST_LINK}"
  fi
  remove_host_dirs_made
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
