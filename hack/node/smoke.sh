#!/usr/bin/env bash
# A quick check of the real node, run by cluster-up: a pod without any
# toleration lands on it (not on a kwok node) and runs with an address from
# the bridge; from the node, the `kubernetes` Service reaches the API server
# and the kube-dns Service resolves it, which proves kube-proxy's rules and
# CoreDNS. e2e/node_test.go proves the same from inside pods, and more.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

load_node_env
ns=default pod=cluster-up-node-smoke
kubectl_admin -n "${ns}" delete pod "${pod}" --ignore-not-found --wait=true >/dev/null
kubectl_admin -n "${ns}" create -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
spec:
  terminationGracePeriodSeconds: 0
  automountServiceAccountToken: false
  containers:
  - {name: main, image: ${PAUSE_IMAGE}, imagePullPolicy: Never}
YAML
pod_running_on_node() {
  local seen
  seen="$(kubectl_admin -n "${ns}" get pod "${pod}" -o jsonpath='{.status.phase}/{.spec.nodeName}/{.status.podIP}')"
  [[ "${seen}" == "Running/${NODE_NAME}/${POD_SUBNET%.*}."* ]]
}
wait_for "smoke pod Running on ${NODE_NAME} with an address in ${POD_SUBNET}" 120 kubelet pod_running_on_node
kubectl_admin -n "${ns}" delete pod "${pod}" --wait=true --timeout=60s >/dev/null

apiserver_through_service() {
  in_node curl -fsSk --max-time 5 "https://${KUBERNETES_SERVICE_IP}/readyz" | grep -qx ok
}
wait_for "API server through the kubernetes Service (${KUBERNETES_SERVICE_IP}:443)" 60 kube-proxy apiserver_through_service

# getent reads /etc/resolv.conf: give it one naming kube-dns, in a mount
# namespace of its own, so the host's stays untouched.
resolve_through_kube_dns() {
  local conf="${NODE_DIR}/coredns/smoke-resolv.conf"
  echo "nameserver ${DNS_SERVICE_IP}" >"${conf}"
  # shellcheck disable=SC2016 # expanded by the inner shell
  in_node unshare --mount sh -c 'mount --bind "$1" /etc/resolv.conf && getent hosts "$2"' \
    sh "${conf}" "kubernetes.default.svc.${CLUSTER_DOMAIN}" | grep -q "^${KUBERNETES_SERVICE_IP} "
}
wait_for "kubernetes.default.svc.${CLUSTER_DOMAIN} resolved through kube-dns (${DNS_SERVICE_IP})" 60 coredns resolve_through_kube_dns
