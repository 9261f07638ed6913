#!/usr/bin/env bash
# The real node's kubelet, in the node's network namespace, on the node's
# own containerd.
#
#   kubelet.sh start   cgroup root, config, RBAC for the API server's calls
#                      into the kubelet; start; wait until the node is Ready
#   kubelet.sh stop    stop the kubelet (the pods keep running until
#                      containerd.sh stop kills them)
#   kubelet.sh clean   after containerd.sh stop: unmount the pods' volumes,
#                      remove the cgroups and the log links it made
#
# Identity: a static token for system:node:<node> in system:nodes (the API
# server authorizes it with the Node authorizer, like any kubelet), in
# LOCAL_DIR/node/kubelet.kubeconfig, written by credentials.sh.
# Its own API (logs, exec, metrics) authenticates callers by client
# certificate or token and asks the API server whether they may
# (webhook), as in a production cluster: the API server comes with the
# kubelet client certificate credentials.sh made, bound to
# system:kubelet-api-admin; metrics-server comes with its token.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

CONFIG="${KUBELET_DIR}/config.yaml"

# make_cgroup_root: kubelet refuses a cgroupRoot that does not exist. A
# cpuset cgroup starts with no CPUs or memory nodes; it gets its parent's.
make_cgroup_root() {
  local dir parent
  for dir in $(node_cgroup_dirs); do
    mkdir -p "${dir}"
    parent="$(dirname "${dir}")"
    if [[ -e "${dir}/cpuset.cpus" ]]; then
      cat "${parent}/cpuset.cpus" >"${dir}/cpuset.cpus"
      cat "${parent}/cpuset.mems" >"${dir}/cpuset.mems"
    fi
  done
}

write_config() {
  mkdir -p "${KUBELET_DIR}/root" "${KUBELET_DIR}/pod-logs" "${KUBELET_DIR}/volume-plugins" "${KUBELET_DIR}/pki"
  cat >"${CONFIG}" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host has cgroup v1 controllers (hybrid mode); the v1beta1 default
# refuses to start on cgroup v1.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: ${NODE_CGROUP_ROOT}
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
imageServiceEndpoint: unix://${CONTAINERD_SOCK}
failSwapOn: false
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: ${NODE_IP}
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${PKI_DIR}/ca.crt}
authorization: {mode: Webhook}
clusterDomain: ${CLUSTER_DOMAIN}
clusterDNS: [${DNS_SERVICE_IP}]
# Nothing from the host's resolver reaches the pods: ClusterFirst pods get
# cluster DNS only, Default pods no resolver at all.
resolvConf: ""
podLogsDir: ${KUBELET_DIR}/pod-logs
volumePluginDir: ${KUBELET_DIR}/volume-plugins
registerNode: true
# A small, shared disk: evict only when it is really full, and never
# garbage-collect the images imported for the tests.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Pods come and go quickly in tests; the default is a minute.
syncFrequency: 10s
YAML
}

# The API server's calls into the kubelet (logs, exec, port-forward,
# metrics) use the client certificate credentials.sh made.
apply_rbac() {
  kubectl_admin apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kube-apiserver-kubelet-client
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}
YAML
}

kubelet_healthy() { curl -fsS "http://${NODE_IP}:10248/healthz" | grep -qx ok; }
node_ready() {
  [[ "$(kubectl_admin get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

start() {
  load_node_env
  [[ -x "${BIN_DIR}/kubelet" ]] || die "${BIN_DIR}/kubelet missing: run hack/build-tools.sh"
  make_cgroup_root
  write_config
  apply_rbac
  # shellcheck disable=SC2086 # extra flags, split on whitespace
  start_in_node kubelet "${BIN_DIR}/kubelet" \
    --config="${CONFIG}" \
    --kubeconfig="${NODE_DIR}/kubelet.kubeconfig" \
    --hostname-override="${NODE_NAME}" \
    --node-ip="${NODE_IP}" \
    --root-dir="${KUBELET_DIR}/root" \
    --cert-dir="${KUBELET_DIR}/pki" \
    ${KUBELET_EXTRA_ARGS:-}
  wait_for "kubelet /healthz" "${READY_TIMEOUT:-180}" kubelet kubelet_healthy
  wait_for "node ${NODE_NAME} Ready" "${READY_TIMEOUT:-180}" kubelet node_ready
}

stop() {
  [[ -f "${NODE_ENV}" ]] || return 0
  stop_component kubelet
}

# clean: what the kubelet leaves on the host once it and the pods are gone.
clean() {
  [[ -f "${NODE_ENV}" ]] || return 0
  load_node_env
  # Service account tokens, projected and emptyDir volumes are mounts under
  # the kubelet's root; its root is also bind-mounted onto itself.
  unmount_under "${KUBELET_DIR}"
  # /var/log/containers is the one path kubelet does not let us move: it
  # links each container's log there. Only links into our pod logs go.
  local link
  for link in /var/log/containers/*.log; do
    [[ -L "${link}" && "$(readlink "${link}")" == "${KUBELET_DIR}/"* ]] && rm -f "${link}"
  done
  other_nodes_on_host || rm -f "${KUBELET_SHARED_FILES[@]}"
  local dir
  for dir in $(node_cgroup_dirs); do
    [[ -d "${dir}" ]] || continue
    # Deepest first; rmdir (not rm) is how cgroups are removed.
    find "${dir}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  clean) clean ;;
  *) die "usage: $0 start|stop|clean" ;;
esac
