#!/usr/bin/env bash
# Checks that the real node left nothing on this machine: no process, mount,
# network namespace, link, route, iptables rule, cgroup or file outside
# LOCAL_DIR. Prints each leftover and exits 1 if there is any. Run by
# down.sh after the teardown; also useful on its own.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

[[ -f "${NODE_ENV}" ]] || exit 0
load_node_env

leftovers=()
found() { leftovers+=("$1"); }
# cmdline_of <pid>: its command line, or nothing if it just exited.
cmdline_of() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null || true; }

for c in kubelet kube-proxy coredns containerd; do
  component_alive "${c}" && found "process: ${c} (pid $(pid_of "${c}"))"
done
for pid in $(pids_with_arg "${CONTAINERD_SOCK}"); do
  found "process: $(cmdline_of "${pid}") (pid ${pid})"
done
for pid in $(pids_in_node_cgroups); do
  found "process in the node's cgroups: $(cmdline_of "${pid}") (pid ${pid})"
done
# A process still inside the node's network namespace keeps it (and its
# bridge and rules) alive after its file is gone.
for dir in /proc/[0-9]*; do
  [[ "$(readlink "${dir}/ns/net" 2>/dev/null)" == "net:[${NODE_NETNS_INODE}]" ]] || continue
  found "process in the node's network namespace: $(cmdline_of "${dir#/proc/}") (pid ${dir#/proc/})"
done
while read -r target; do
  [[ -n "${target}" ]] && found "mount: ${target}"
done < <(mounts_under "${NODE_DIR}"; mounts_under "${NODE_NETNS_PATH}")
[[ -e "${NODE_NETNS_PATH}" ]] && found "network namespace: ${NODE_NETNS}"
ip link show "${NODE_HOST_LINK}" >/dev/null 2>&1 && found "link: ${NODE_HOST_LINK}"
[[ -n "$(ip -4 route show "${POD_SUBNET}" 2>/dev/null)" ]] && found "route: ${POD_SUBNET}"
while read -r rule; do
  [[ -n "${rule}" ]] && found "host iptables rule: ${rule}"
done < <(iptables-save 2>/dev/null | grep -F -e "${POD_SUBNET}" -e "${NODE_IP}" -e "${NODE_HOST_IP}" -e ELASTICFLUX || true)
for dir in $(node_cgroup_dirs); do
  [[ -d "${dir}" ]] && found "cgroup: ${dir}"
done
for f in $(shim_sockets); do
  found "containerd shim socket: ${f}"
done
for f in $(cni_cache_files); do
  found "CNI cache file: ${f}"
done
for link in /var/log/containers/*.log; do
  [[ -L "${link}" && "$(readlink "${link}")" == "${KUBELET_DIR}/"* ]] && found "log link: ${link}"
done
if ! other_nodes_on_host; then
  for f in "${KUBELET_SHARED_FILES[@]}"; do
    [[ -e "${f}" ]] && found "kubelet file: ${f}"
  done
fi
[[ "$(cat /proc/sys/net/ipv4/ip_forward)" == "${HOST_IP_FORWARD}" ]] ||
  found "sysctl: the host's net.ipv4.ip_forward is $(cat /proc/sys/net/ipv4/ip_forward), was ${HOST_IP_FORWARD}"

if ((${#leftovers[@]} > 0)); then
  log "ERROR: the real node left ${#leftovers[@]} things behind:"
  printf '  %s\n' "${leftovers[@]}" >&2
  exit 1
fi
log "real node gone: no process, mount, namespace, link, route, rule or cgroup left"
