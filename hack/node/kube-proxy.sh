#!/usr/bin/env bash
# kube-proxy for the real node, in iptables mode, in the node's network
# namespace: it makes Service addresses work for the pods, the `kubernetes`
# Service (the API server on the host) and kube-dns among them.
#
#   kube-proxy.sh start   write the config, start, wait until its rules for
#                         the `kubernetes` Service are in place
#   kube-proxy.sh stop    stop it and remove its iptables rules
#
# Identity: a static token for user system:kube-proxy, which the API
# server's bootstrap RBAC binds to system:node-proxier.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

CONFIG="${NODE_DIR}/kube-proxy/config.yaml"

write_config() {
  mkdir -p "$(dirname "${CONFIG}")"
  # conntrack: all zeros leave the kernel's settings alone; nf_conntrack_max
  # is not writable from a network namespace other than the host's.
  cat >"${CONFIG}" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${NODE_DIR}/kube-proxy.kubeconfig
hostnameOverride: ${NODE_NAME}
mode: iptables
clusterCIDR: ${POD_SUBNET}
detectLocalMode: ClusterCIDR
bindAddress: ${NODE_IP}
healthzBindAddress: ${NODE_IP}:10256
metricsBindAddress: ${NODE_IP}:10249
nodePortAddresses: ["${NODE_IP}/32"]
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
YAML
}

kubernetes_service_routed() {
  in_node iptables-save -t nat | grep -q -- "-d ${KUBERNETES_SERVICE_IP}/32 .*-j KUBE-SVC-"
}

start() {
  load_node_env
  [[ -x "${BIN_DIR}/kube-proxy" ]] || die "${BIN_DIR}/kube-proxy missing: run hack/build-tools.sh"
  write_config
  # shellcheck disable=SC2086 # extra flags, split on whitespace
  start_in_node kube-proxy "${BIN_DIR}/kube-proxy" --config="${CONFIG}" ${KUBE_PROXY_EXTRA_ARGS:-}
  wait_for "kube-proxy rules for the kubernetes Service" "${READY_TIMEOUT:-180}" kube-proxy kubernetes_service_routed
}

stop() {
  [[ -f "${NODE_ENV}" ]] || return 0
  load_node_env
  stop_component kube-proxy
  # Deleting the node's namespace drops its rules too; this removes them
  # even when the namespace is kept (say, a process still holds it).
  if [[ -e "${NODE_NETNS_PATH}" && -x "${BIN_DIR}/kube-proxy" ]]; then
    in_node "${BIN_DIR}/kube-proxy" --cleanup --v=0 >>"${LOG_DIR}/kube-proxy.log" 2>&1 ||
      log "kube-proxy --cleanup failed; see ${LOG_DIR}/kube-proxy.log"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
