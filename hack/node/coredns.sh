#!/usr/bin/env bash
# Cluster DNS for the local cluster: CoreDNS with its kubernetes plugin, in
# the node's network namespace on NODE_IP:53, behind a real `kube-dns`
# Service (DNS_SERVICE_IP) in kube-system, so pods resolve Services and
# `<hostname>.<subdomain>.<namespace>.svc.cluster.local` as in any cluster.
#
# It answers for the cluster's zones only and forwards nothing: a name
# outside the cluster gets REFUSED, no query leaves the machine.
#
#   coredns.sh start   RBAC, Corefile, kube-dns Service and its endpoint;
#                      start; wait until the kubernetes plugin has synced
#   coredns.sh stop
#
# Identity: a static token for user `coredns`, allowed to read what the
# kubernetes plugin watches.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

COREFILE="${NODE_DIR}/coredns/Corefile"
READY_PORT=8181

write_corefile() {
  mkdir -p "$(dirname "${COREFILE}")"
  cat >"${COREFILE}" <<COREFILE
${CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {
    bind ${NODE_IP}
    errors
    ready ${NODE_IP}:${READY_PORT}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${NODE_DIR}/coredns.kubeconfig elasticflux-local
        pods insecure
        ttl 5
    }
}
COREFILE
}

apply_objects() {
  kubectl_admin apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: local-cluster:coredns
rules:
- apiGroups: [""]
  resources: [services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: local-cluster:coredns
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: local-cluster:coredns}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: ${DNS_SERVICE_IP}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
# CoreDNS is a process on the node, not a pod, so the Service has no
# selector and this slice is its endpoint. The managed-by label keeps the
# EndpointSlice controller's hands off it.
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: cluster-up.elasticflux.io
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: [${NODE_IP}]
  conditions: {ready: true}
  nodeName: ${NODE_NAME}
YAML
}

coredns_ready() { curl -fsS "http://${NODE_IP}:${READY_PORT}/ready" >/dev/null; }

start() {
  load_node_env
  [[ -x "${BIN_DIR}/coredns" ]] || die "${BIN_DIR}/coredns missing: run hack/build-tools.sh"
  write_corefile
  apply_objects
  start_in_node coredns "${BIN_DIR}/coredns" -conf "${COREFILE}"
  wait_for "CoreDNS ready" "${READY_TIMEOUT:-180}" coredns coredns_ready
}

stop() {
  [[ -f "${NODE_ENV}" ]] || return 0
  stop_component coredns
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
