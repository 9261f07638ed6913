#!/usr/bin/env bash
# The real node's credentials, made by cluster-up after the cluster's PKI
# and before the API server starts (it reads tokens.csv once):
#
#   - static tokens, appended to LOCAL_DIR/pki/tokens.csv, and a kubeconfig
#     each in LOCAL_DIR/node/: kubelet as system:node:<node> in group
#     system:nodes (the Node authorizer's subject), kube-proxy as
#     system:kube-proxy (bootstrap RBAC: system:node-proxier), CoreDNS as
#     coredns (coredns.sh grants it read access);
#   - the API server's client certificate for calling the kubelet (logs,
#     exec), LOCAL_DIR/pki/kubelet-client.{crt,key}, signed by the cluster
#     CA, which the kubelet trusts for client certificates.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HERE}/../cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HERE}/lib.sh"

load_node_env
load_cluster_env
[[ -f "${PKI_DIR}/tokens.csv" && -f "${PKI_DIR}/ca.key" ]] || die "the cluster PKI in ${PKI_DIR} is missing"

tok() { openssl rand -hex 16; }
KUBELET_TOKEN="$(tok)"; PROXY_TOKEN="$(tok)"; COREDNS_TOKEN="$(tok)"
cat >>"${PKI_DIR}/tokens.csv" <<CSV
${KUBELET_TOKEN},system:node:${NODE_NAME},system:node:${NODE_NAME},"system:nodes"
${PROXY_TOKEN},system:kube-proxy,system:kube-proxy
${COREDNS_TOKEN},coredns,coredns
CSV
write_kubeconfig "${NODE_DIR}/kubelet.kubeconfig" "${APISERVER_URL}" "system:node:${NODE_NAME}" "${KUBELET_TOKEN}"
write_kubeconfig "${NODE_DIR}/kube-proxy.kubeconfig" "${APISERVER_URL}" system:kube-proxy "${PROXY_TOKEN}"
write_kubeconfig "${NODE_DIR}/coredns.kubeconfig" "${APISERVER_URL}" coredns "${COREDNS_TOKEN}"

# No organisation (so not system:masters): what it may do on the kubelet
# comes from RBAC (kubelet.sh binds it to system:kubelet-api-admin).
cat >"${PKI_DIR}/kubelet-client.cnf" <<CNF
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
CNF
openssl req -new -nodes -newkey rsa:2048 -subj "/CN=kube-apiserver-kubelet-client" \
  -keyout "${PKI_DIR}/kubelet-client.key" -out "${PKI_DIR}/kubelet-client.csr" 2>/dev/null
openssl x509 -req -in "${PKI_DIR}/kubelet-client.csr" -CA "${PKI_DIR}/ca.crt" -CAkey "${PKI_DIR}/ca.key" \
  -set_serial "0x$(openssl rand -hex 8)" -days 3650 \
  -extfile "${PKI_DIR}/kubelet-client.cnf" -extensions v3_client -out "${PKI_DIR}/kubelet-client.crt" 2>/dev/null
rm -f "${PKI_DIR}/kubelet-client.csr" "${PKI_DIR}/kubelet-client.cnf"
chmod 600 "${PKI_DIR}/kubelet-client.key"
log "node credentials: kubelet, kube-proxy and CoreDNS tokens; the API server's kubelet client certificate"
