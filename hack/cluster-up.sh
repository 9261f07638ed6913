#!/usr/bin/env bash
# Starts a local Kubernetes cluster for e2e tests, `make run` and
# benchmarks: a real control plane with kwok fake nodes (for scale) and one
# real node that runs containers (hack/node/). etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok and metrics-server run as
# plain background processes from bin/ (built by hack/build-tools.sh); the
# real node is kubelet, kube-proxy and CoreDNS from bin/ with Debian's
# containerd and runc, in a network namespace of its own that the API server
# reaches over a veth pair (hack/node/network.sh). All state is under
# .local/ (see hack/cluster/lib.sh); stop everything with
# hack/cluster-down.sh, which checks that nothing is left behind.
#
# Idempotent: if .local/ already holds a running, healthy cluster it says so
# and exits 0. A stale .local/ (processes gone) is cleaned up first.
#
# Env (all optional):
#   NODES=4                 number of fake kwok nodes (tainted
#                           kwok.x-k8s.io/node=fake:NoSchedule; the real node
#                           elasticflux-node is not)
#   NODE_CPU=32 NODE_MEMORY=256Gi NODE_PODS=110   allocatable per node
#   AUDIT=1                 audit log of writes to .local/logs/audit.log
#   CONTROLLER_ADMIN=1      bind user elasticflux-controller to cluster-admin
#   SKIP_SMOKE=1            skip the pod / Indexed Job smoke checks
#   VERIFY_METRICS=1        also wait (~30-60 s) until the smoke Job's pods
#                           have metrics in metrics.k8s.io
#   ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT
#   METRICS_SERVER_PORT     fixed ports (else the defaults below, or the next
#                           free port above each default)
#   POD_CIDR=10.244.0.1/16  fake pod IPs kwok hands out (nothing listens there)
#   APISERVER_EXTRA_ARGS KCM_EXTRA_ARGS SCHEDULER_EXTRA_ARGS KWOK_EXTRA_ARGS
#   METRICS_SERVER_EXTRA_ARGS KUBELET_EXTRA_ARGS KUBE_PROXY_EXTRA_ARGS
#                           extra flags, split on whitespace
#   BIN_DIR LOCAL_DIR       where binaries / state live (default bin/, .local/)
#   READY_TIMEOUT=180       seconds to wait for each readiness step
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/cluster/lib.sh
source "${HACK_DIR}/cluster/lib.sh"
# shellcheck source=hack/node/lib.sh
source "${HACK_DIR}/node/lib.sh"

NODES="${NODES:-4}"
NODE_CPU="${NODE_CPU:-32}"
NODE_MEMORY="${NODE_MEMORY:-256Gi}"
NODE_PODS="${NODE_PODS:-110}"
AUDIT="${AUDIT:-0}"
CONTROLLER_ADMIN="${CONTROLLER_ADMIN:-0}"
SKIP_SMOKE="${SKIP_SMOKE:-0}"
VERIFY_METRICS="${VERIFY_METRICS:-0}"
POD_CIDR="${POD_CIDR:-10.244.0.1/16}"
READY_TIMEOUT="${READY_TIMEOUT:-180}"
# What kwok nodes carry, and what a pod meant for them says.
KWOK_NODE_SELECTOR="type=kwok"
KWOK_TAINT_KEY="kwok.x-k8s.io/node"
KWOK_STAGES=(
  stage/node/fast/node-initialize.yaml
  "stage/node/heartbeat-with-lease/*.yaml"
  stage/pod/fast/pod-ready.yaml
  stage/pod/fast/pod-delete.yaml
  # Simulated kubelet resource metrics + usage taken from pod annotations
  # (kwok.x-k8s.io/usage-cpu / -memory), for metrics-server and the HPA.
  metrics/resource/metrics-resource.yaml
  metrics/usage/usage-from-annotation.yaml
  # Deliberately NOT stage/pod/fast/pod-complete.yaml: it marks every Job pod
  # Succeeded at once, and Flux broker pods must stay Running.
)

[[ "${NODES}" =~ ^[0-9]+$ ]] || die "NODES must be a number, got '${NODES}'"
for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok metrics-server kubelet kube-proxy coredns; do
  [[ -x "${BIN_DIR}/${tool}" ]] || die "${BIN_DIR}/${tool} missing: run hack/build-tools.sh first"
done
command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
command -v curl >/dev/null || die "curl is required (apt-get install curl)"
require_node_prerequisites

lock_cluster

# Human hints on stderr; the last line on stdout is exactly the export, so
# callers can `eval "$(hack/cluster-up.sh | tail -n1)"`.
print_usage_hint() {
  {
    printf '\nCluster is up.\n'
    printf '  admin kubeconfig:      %s\n' "${ADMIN_KUBECONFIG}"
    printf '  controller kubeconfig: %s (user elasticflux-controller)\n' "${CONTROLLER_KUBECONFIG}"
    printf '  real node:             %s at %s; pods on %s, reachable from this machine\n' "${NODE_NAME}" "${NODE_IP}" "${POD_SUBNET}"
    printf '  ports etc.:            source %s/env\n' "${LOCAL_DIR}"
    printf '  stop:                  hack/cluster-down.sh\n\n'
  } >&2
  printf 'export KUBECONFIG=%s\n' "${ADMIN_KUBECONFIG}"
}

bind_controller_admin() {
  # Off by default: the controller's real RBAC comes from manifests/rbac, and
  # e2e tests should prove it is sufficient.
  if [[ "${CONTROLLER_ADMIN}" == 1 ]]; then
    kubectl_admin create clusterrolebinding elasticflux-controller-admin \
      --clusterrole=cluster-admin --user=elasticflux-controller \
      --dry-run=client -o yaml | kubectl_admin apply -f - >/dev/null
    log "CONTROLLER_ADMIN=1: user elasticflux-controller bound to cluster-admin"
  fi
}

apiserver_ready() { kubectl_admin get --raw /readyz >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
# 0. Existing state: reuse a healthy cluster, clean up a dead one.
# ---------------------------------------------------------------------------
if [[ -d "${LOCAL_DIR}" ]]; then
  all_alive=1
  for c in "${CLUSTER_COMPONENTS[@]}" "${NODE_COMPONENTS[@]}"; do
    component_alive "${c}" || { all_alive=0; break; }
  done
  if [[ "${all_alive}" == 1 ]] && apiserver_ready; then
    running_audit="$(sed -n 's/^export AUDIT=//p' "${LOCAL_DIR}/env" 2>/dev/null || true)"
    log "a cluster is already running from ${LOCAL_DIR} (AUDIT=${running_audit:-?}); nothing to do"
    if [[ "${AUDIT}" != "${running_audit:-0}" ]]; then
      log "WARNING: AUDIT=${AUDIT} requested but the running cluster has AUDIT=${running_audit:-?}; run hack/cluster-down.sh first to change it"
    fi
    bind_controller_admin
    load_node_env
    print_usage_hint
    exit 0
  fi
  log "found stale state in ${LOCAL_DIR}; cleaning it up"
  "${HACK_DIR}/cluster-down.sh" --locked
fi

# ---------------------------------------------------------------------------
# 1. Ports: env override wins (must be free); otherwise the default, or the
#    next free port above it. Defaults sit below the kernel's ephemeral range
#    (32768+) so outgoing connections cannot be holding them.
# ---------------------------------------------------------------------------
PICKED_PORTS=" "
pick_port() {
  local var="$1" def="$2" p
  if [[ -n "${!var:-}" ]]; then
    p="${!var}"
    port_in_use "${p}" && die "${var}=${p} is already in use"
  else
    p="${def}"
    while port_in_use "${p}" || [[ "${PICKED_PORTS}" == *" ${p} "* ]]; do
      p=$((p + 1))
    done
  fi
  PICKED_PORTS+="${p} "
  printf -v "${var}" '%s' "${p}"
}
pick_port ETCD_PORT 22379
pick_port ETCD_PEER_PORT 22380
pick_port APISERVER_PORT 26443
pick_port KCM_PORT 20257
pick_port SCHEDULER_PORT 20259
pick_port KWOK_PORT 20250
pick_port METRICS_SERVER_PORT 20443
log "ports: etcd=${ETCD_PORT}/${ETCD_PEER_PORT} apiserver=${APISERVER_PORT} controller-manager=${KCM_PORT} scheduler=${SCHEDULER_PORT} kwok=${KWOK_PORT} metrics-server=${METRICS_SERVER_PORT}"

mkdir -p "${PKI_DIR}" "${RUN_DIR}" "${LOG_DIR}" "${LOCAL_DIR}/metrics-server"
mkdir -m 700 "${LOCAL_DIR}/etcd" # etcd warns about anything looser
# Marker so cluster-down only ever `rm -rf`s a directory this script made.
touch "${LOCAL_DIR}/.elasticflux-cluster"
# On any failure from here on (a failed command under set -e, or die): stop
# what we started so no stray processes hold ports, and keep .local/ with
# its logs for inspection. An EXIT trap (not ERR) so `die` is covered too.
CLUSTER_UP_DONE=0
on_exit() {
  local rc=$?
  [[ "${CLUSTER_UP_DONE}" == 1 ]] && return
  log "cluster-up failed (exit ${rc}); stopping the processes it started. Logs kept in ${LOG_DIR}; hack/cluster-down.sh removes them."
  stop_all
  exit $((rc == 0 ? 1 : rc))
}
trap on_exit EXIT
# Make Ctrl-C / kill run the same cleanup with a meaningful exit code.
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# 1b. The real node's network comes first: the API server listens on the
#     host's end of the node's veth pair, so pods reach it through the
#     `kubernetes` Service and the kubelet's API is reachable from it.
#     Never 0.0.0.0 or a public interface: nothing off this machine can
#     reach the cluster.
# ---------------------------------------------------------------------------
"${HACK_DIR}/node/network.sh" start
load_node_env
APISERVER_ADDRESS="${NODE_HOST_IP}"
APISERVER_URL="https://${APISERVER_ADDRESS}:${APISERVER_PORT}"

# ---------------------------------------------------------------------------
# 2. PKI with openssl: cluster CA (signs the apiserver serving cert; kcm uses
#    it as root CA for ServiceAccount token volumes/kube-root-ca.crt and for
#    CSR signing), ServiceAccount key pair, front-proxy CA + client cert for
#    the aggregation layer (metrics.k8s.io).
# ---------------------------------------------------------------------------
gen_pki() {
  local d="${PKI_DIR}"
  cat >"${d}/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:${APISERVER_ADDRESS},IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF
  # new_ca <name> <CN>
  new_ca() {
    openssl req -x509 -new -nodes -newkey rsa:2048 -days 3650 \
      -config "${d}/openssl.cnf" -extensions v3_ca -subj "/CN=$2" \
      -keyout "${d}/$1.key" -out "${d}/$1.crt" 2>/dev/null
  }
  # new_cert <name> <CN> <ca name> <extensions section>
  new_cert() {
    openssl req -new -nodes -newkey rsa:2048 -config "${d}/openssl.cnf" -subj "/CN=$2" \
      -keyout "${d}/$1.key" -out "${d}/$1.csr" 2>/dev/null
    openssl x509 -req -in "${d}/$1.csr" -CA "${d}/$3.crt" -CAkey "${d}/$3.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 \
      -extfile "${d}/openssl.cnf" -extensions "$4" -out "${d}/$1.crt" 2>/dev/null
    rm -f "${d}/$1.csr"
  }
  new_ca ca elasticflux-local-ca
  new_cert apiserver kube-apiserver ca v3_server
  new_ca front-proxy-ca front-proxy-ca
  new_cert front-proxy-client front-proxy-client front-proxy-ca v3_client
  openssl genrsa -out "${d}/sa.key" 2048 2>/dev/null
  openssl rsa -in "${d}/sa.key" -pubout -out "${d}/sa.pub" 2>/dev/null
  chmod 600 "${d}"/*.key
}
gen_pki
log "generated PKI in ${PKI_DIR}"

# ---------------------------------------------------------------------------
# 3. Identities: static bearer tokens. kcm and the scheduler get the standard
#    user names, so the apiserver's bootstrap RBAC applies to them as in a
#    real cluster (and kcm uses per-controller ServiceAccounts). kwok and
#    metrics-server are system:masters but under their own names. So every
#    writer has its own user name and the audit log (AUDIT=1) tells the
#    controller's writes apart from the job controller's, kwok's status
#    patches, metrics-server's SubjectAccessReviews and the admin's.
# ---------------------------------------------------------------------------
tok() { openssl rand -hex 16; }
ADMIN_TOKEN="$(tok)"; KCM_TOKEN="$(tok)"; SCHED_TOKEN="$(tok)"; CONTROLLER_TOKEN="$(tok)"
KWOK_TOKEN="$(tok)"; MS_TOKEN="$(tok)"
cat >"${PKI_DIR}/tokens.csv" <<EOF
${ADMIN_TOKEN},admin,admin,"system:masters"
${KCM_TOKEN},system:kube-controller-manager,system:kube-controller-manager
${SCHED_TOKEN},system:kube-scheduler,system:kube-scheduler
${CONTROLLER_TOKEN},elasticflux-controller,elasticflux-controller
${KWOK_TOKEN},kwok,kwok,"system:masters"
${MS_TOKEN},metrics-server,metrics-server,"system:masters"
EOF
chmod 600 "${PKI_DIR}/tokens.csv"

write_kubeconfig "${ADMIN_KUBECONFIG}" "${APISERVER_URL}" admin "${ADMIN_TOKEN}"
write_kubeconfig "${CONTROLLER_KUBECONFIG}" "${APISERVER_URL}" elasticflux-controller "${CONTROLLER_TOKEN}"
write_kubeconfig "${LOCAL_DIR}/kube-controller-manager.kubeconfig" "${APISERVER_URL}" system:kube-controller-manager "${KCM_TOKEN}"
write_kubeconfig "${LOCAL_DIR}/kube-scheduler.kubeconfig" "${APISERVER_URL}" system:kube-scheduler "${SCHED_TOKEN}"
write_kubeconfig "${LOCAL_DIR}/kwok.kubeconfig" "${APISERVER_URL}" kwok "${KWOK_TOKEN}"
write_kubeconfig "${LOCAL_DIR}/metrics-server.kubeconfig" "${APISERVER_URL}" metrics-server "${MS_TOKEN}"

AUDIT_LOG=""
[[ "${AUDIT}" == 1 ]] && AUDIT_LOG="${LOG_DIR}/audit.log"
# Sourceable summary for tests, `make run` and benchmarks.
cat >"${LOCAL_DIR}/env" <<EOF
export KUBECONFIG=${ADMIN_KUBECONFIG}
export CONTROLLER_KUBECONFIG=${CONTROLLER_KUBECONFIG}
export APISERVER_URL=${APISERVER_URL}
export ETCD_PORT=${ETCD_PORT}
export ETCD_PEER_PORT=${ETCD_PEER_PORT}
export APISERVER_PORT=${APISERVER_PORT}
export KCM_PORT=${KCM_PORT}
export SCHEDULER_PORT=${SCHEDULER_PORT}
export KWOK_PORT=${KWOK_PORT}
export METRICS_SERVER_PORT=${METRICS_SERVER_PORT}
export NODES=${NODES}
export AUDIT=${AUDIT}
export AUDIT_LOG=${AUDIT_LOG}
export APISERVER_ADDRESS=${APISERVER_ADDRESS}
export DNS_SERVICE_IP=${DNS_SERVICE_IP}
EOF
cat "${NODE_ENV}" >>"${LOCAL_DIR}/env"
"${HACK_DIR}/node/credentials.sh"

# ---------------------------------------------------------------------------
# 4. etcd
# ---------------------------------------------------------------------------
# --unsafe-no-fsync: throwaway data, and fsync on a busy 2-core box is the
# main source of apiserver latency.
start_component etcd \
  --name=elasticflux-local \
  --data-dir="${LOCAL_DIR}/etcd" \
  --listen-client-urls="http://127.0.0.1:${ETCD_PORT}" \
  --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
  --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster="elasticflux-local=http://127.0.0.1:${ETCD_PEER_PORT}" \
  --unsafe-no-fsync \
  --log-level=warn
etcd_healthy() { curl -fsS "http://127.0.0.1:${ETCD_PORT}/health" | grep -q '"health":"true"'; }
wait_for "etcd healthy" "${READY_TIMEOUT}" etcd etcd_healthy

# ---------------------------------------------------------------------------
# 5. kube-apiserver
# ---------------------------------------------------------------------------
# --bind-address/--advertise-address: the host's end of the node's veth
#   pair; the endpoint reconciler publishes it as the `kubernetes` Service's
#   endpoint, which kube-proxy on the node routes the pods to.
# --kubelet-client-*: how the API server authenticates to the kubelet (logs,
#   exec); --kubelet-preferred-address-types: the node's name resolves
#   nowhere, its InternalIP is where the kubelet listens.
audit_args=()
if [[ "${AUDIT}" == 1 ]]; then
  # Writes only, at Metadata level (who/what/when, no bodies), one event per
  # request (RequestReceived omitted): that is what the benchmark counts.
  cat >"${LOCAL_DIR}/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
EOF
  audit_args=(
    --audit-policy-file="${LOCAL_DIR}/audit-policy.yaml"
    --audit-log-path="${LOG_DIR}/audit.log"
    --audit-log-format=json
    --audit-log-maxbackup=0
  )
fi
# shellcheck disable=SC2086 # *_EXTRA_ARGS are meant to be word-split
start_component kube-apiserver \
  --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
  --bind-address="${APISERVER_ADDRESS}" \
  --advertise-address="${APISERVER_ADDRESS}" \
  --secure-port="${APISERVER_PORT}" \
  --cert-dir="${PKI_DIR}" \
  --tls-cert-file="${PKI_DIR}/apiserver.crt" \
  --tls-private-key-file="${PKI_DIR}/apiserver.key" \
  --client-ca-file="${PKI_DIR}/ca.crt" \
  --token-auth-file="${PKI_DIR}/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="${PKI_DIR}/sa.pub" \
  --service-account-signing-key-file="${PKI_DIR}/sa.key" \
  --service-cluster-ip-range="${SERVICE_CIDR}" \
  --allow-privileged=true \
  --kubelet-client-certificate="${PKI_DIR}/kubelet-client.crt" \
  --kubelet-client-key="${PKI_DIR}/kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --requestheader-client-ca-file="${PKI_DIR}/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="${PKI_DIR}/front-proxy-client.crt" \
  --proxy-client-key-file="${PKI_DIR}/front-proxy-client.key" \
  "${audit_args[@]}" \
  ${APISERVER_EXTRA_ARGS:-}
wait_for "kube-apiserver /readyz" "${READY_TIMEOUT}" kube-apiserver apiserver_ready

bind_controller_admin

# ---------------------------------------------------------------------------
# 6. kube-controller-manager and kube-scheduler
# ---------------------------------------------------------------------------
KCM_KUBECONFIG="${LOCAL_DIR}/kube-controller-manager.kubeconfig"
# --use-service-account-credentials: each controller acts as its own
#   ServiceAccount with bootstrap RBAC, like kubeadm clusters.
# HPA settings: fast enough for e2e tests (defaults are 15s/5m/5m/30s).
# shellcheck disable=SC2086
start_component kube-controller-manager \
  --kubeconfig="${KCM_KUBECONFIG}" \
  --authentication-kubeconfig="${KCM_KUBECONFIG}" \
  --authorization-kubeconfig="${KCM_KUBECONFIG}" \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${PKI_DIR}/sa.key" \
  --root-ca-file="${PKI_DIR}/ca.crt" \
  --cluster-signing-cert-file="${PKI_DIR}/ca.crt" \
  --cluster-signing-key-file="${PKI_DIR}/ca.key" \
  --controllers='*' \
  --leader-elect=false \
  --bind-address=127.0.0.1 \
  --secure-port="${KCM_PORT}" \
  --cert-dir="${LOCAL_DIR}/kube-controller-manager" \
  --horizontal-pod-autoscaler-sync-period=5s \
  --horizontal-pod-autoscaler-downscale-stabilization=10s \
  --horizontal-pod-autoscaler-cpu-initialization-period=10s \
  --horizontal-pod-autoscaler-initial-readiness-delay=5s \
  ${KCM_EXTRA_ARGS:-}

SCHED_KUBECONFIG="${LOCAL_DIR}/kube-scheduler.kubeconfig"
# shellcheck disable=SC2086
start_component kube-scheduler \
  --kubeconfig="${SCHED_KUBECONFIG}" \
  --authentication-kubeconfig="${SCHED_KUBECONFIG}" \
  --authorization-kubeconfig="${SCHED_KUBECONFIG}" \
  --leader-elect=false \
  --bind-address=127.0.0.1 \
  --secure-port="${SCHEDULER_PORT}" \
  --cert-dir="${LOCAL_DIR}/kube-scheduler" \
  ${SCHEDULER_EXTRA_ARGS:-}

# ---------------------------------------------------------------------------
# 7. kwok: fake kubelets. Its config must contain Stage documents (v0.8.0
#    exits with "no stages found" otherwise); we read them at runtime from
#    the kwok module pinned in hack/tools/kwok/go.mod.
# ---------------------------------------------------------------------------
kwok_module_dir() {
  (
    cd "${CLUSTER_REPO_ROOT}/hack/tools/kwok"
    export GOWORK=off
    go mod download sigs.k8s.io/kwok >/dev/null
    go list -m -f '{{.Dir}}' sigs.k8s.io/kwok
  )
}
KWOK_DIR="$(kwok_module_dir)"
[[ -d "${KWOK_DIR}/kustomize" ]] || die "kwok module not found (got '${KWOK_DIR}')"
KWOK_CONFIG="${LOCAL_DIR}/kwok.yaml"
{
  echo "# Generated by hack/cluster-up.sh from ${KWOK_DIR}/kustomize"
  for pattern in "${KWOK_STAGES[@]}"; do
    # shellcheck disable=SC2206 # the glob is intended
    files=("${KWOK_DIR}/kustomize/"${pattern})
    for f in "${files[@]}"; do
      [[ -f "${f}" ]] || die "kwok stage file missing: ${f}"
      [[ "$(basename "${f}")" == kustomization.yaml ]] && continue
      echo "---"
      cat "${f}"
    done
  done
  # Stages of our own: hack/cluster/kwok/*.yaml.
  for f in "${CLUSTER_REPO_ROOT}"/hack/cluster/kwok/*.yaml; do
    echo "---"
    cat "${f}"
  done
} >"${KWOK_CONFIG}"

# --node-lease-duration-seconds: without it kwok keeps no node Leases, the
#   node lifecycle controller marks nodes Unknown after ~40 s, taints them,
#   and node-initialize then wipes their addresses (breaking metrics).
# --node-ip/--node-port: what node-initialize writes into node status, i.e.
#   where metrics-server scrapes the simulated kubelet (kwok serves HTTP and
#   HTTPS on the same --server-address port).
# --manage-nodes-with-label-selector: only its own nodes; the real node's
#   kubelet must be the only one to speak for it and its pods.
# shellcheck disable=SC2086
start_component kwok \
  --kubeconfig="${LOCAL_DIR}/kwok.kubeconfig" \
  --config="${KWOK_CONFIG}" \
  --manage-nodes-with-label-selector="${KWOK_NODE_SELECTOR}" \
  --server-address="127.0.0.1:${KWOK_PORT}" \
  --node-ip=127.0.0.1 \
  --node-port="${KWOK_PORT}" \
  --node-lease-duration-seconds=40 \
  --cidr="${POD_CIDR}" \
  ${KWOK_EXTRA_ARGS:-}

# ---------------------------------------------------------------------------
# 8. Fake nodes. Node status is accepted on create (kubelets register the
#    same way), so capacity/addresses/kubelet port are set up front; kwok's
#    node-initialize keeps them and flips the node Ready. They run no
#    containers, so a taint keeps every pod off them that does not ask for
#    them (tolerates the taint and selects type=kwok): the scale tests and
#    benchmarks do; everything else lands on the real node.
# ---------------------------------------------------------------------------
node_manifest() {
  local name="$1"
  cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: ${name}
  labels:
    type: kwok
    kubernetes.io/hostname: ${name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
    # metrics-server scrapes this path on the kubelet port, which kwok
    # serves from the Metric in its config.
    metrics.k8s.io/resource-metrics-path: /metrics/nodes/${name}/metrics/resource
spec:
  taints:
  - {key: ${KWOK_TAINT_KEY}, value: fake, effect: NoSchedule}
status:
  capacity: {cpu: "${NODE_CPU}", memory: "${NODE_MEMORY}", pods: "${NODE_PODS}"}
  allocatable: {cpu: "${NODE_CPU}", memory: "${NODE_MEMORY}", pods: "${NODE_PODS}"}
  addresses:
  - {type: InternalIP, address: 127.0.0.1}
  - {type: Hostname, address: ${name}}
  daemonEndpoints:
    kubeletEndpoint:
      Port: ${KWOK_PORT}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
EOF
}
if ((NODES > 0)); then
  for ((i = 0; i < NODES; i++)); do node_manifest "kwok-node-${i}"; done | kubectl_admin create -f - >/dev/null
  log "created ${NODES} fake nodes (kwok-node-0..$((NODES - 1)): ${NODE_CPU} cpu, ${NODE_MEMORY}, ${NODE_PODS} pods)"
fi

# ---------------------------------------------------------------------------
# 8b. The real node, one piece per script (see hack/node/lib.sh): its
#     runtime, the sandbox image, the kubelet (waits until the node is
#     Ready), Service routing and cluster DNS.
# ---------------------------------------------------------------------------
"${HACK_DIR}/node/containerd.sh" start
"${HACK_DIR}/node/images.sh"
"${HACK_DIR}/node/kubelet.sh" start
"${HACK_DIR}/node/kube-proxy.sh" start
"${HACK_DIR}/node/coredns.sh" start

# ---------------------------------------------------------------------------
# 9. metrics-server as a local process, registered for metrics.k8s.io via an
#    ExternalName Service pointing at 127.0.0.1 (do NOT pass
#    --enable-aggregator-routing to the apiserver: it rejects ExternalName).
#    It scrapes both kinds of node at their InternalIP and status port: kwok
#    (127.0.0.1, the path from the node's annotation) and the real kubelet
#    (NODE_IP:10250, /metrics/resource, with its token, which the kubelet
#    checks with the API server). Neither has a serving certificate from
#    the cluster CA, hence --kubelet-insecure-tls.
# ---------------------------------------------------------------------------
# shellcheck disable=SC2086
start_component metrics-server \
  --kubeconfig="${LOCAL_DIR}/metrics-server.kubeconfig" \
  --authentication-kubeconfig="${LOCAL_DIR}/metrics-server.kubeconfig" \
  --authorization-kubeconfig="${LOCAL_DIR}/metrics-server.kubeconfig" \
  --secure-port="${METRICS_SERVER_PORT}" \
  --bind-address=127.0.0.1 \
  --cert-dir="${LOCAL_DIR}/metrics-server" \
  --kubelet-insecure-tls \
  --kubelet-use-node-status-port \
  --kubelet-preferred-address-types=InternalIP \
  --metric-resolution=15s \
  ${METRICS_SERVER_EXTRA_ARGS:-}
kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
  - {name: https, port: ${METRICS_SERVER_PORT}, protocol: TCP, targetPort: ${METRICS_SERVER_PORT}}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service:
    name: metrics-server
    namespace: kube-system
    port: ${METRICS_SERVER_PORT}
EOF

# ---------------------------------------------------------------------------
# 10. Readiness, by polling.
# ---------------------------------------------------------------------------
https_healthz() { curl -fsSk "https://127.0.0.1:$1/healthz" | grep -qx ok; }
wait_for "kube-controller-manager /healthz" "${READY_TIMEOUT}" kube-controller-manager https_healthz "${KCM_PORT}"
wait_for "kube-scheduler /healthz" "${READY_TIMEOUT}" kube-scheduler https_healthz "${SCHEDULER_PORT}"
kwok_healthy() { curl -fsS "http://127.0.0.1:${KWOK_PORT}/healthz" >/dev/null; }
wait_for "kwok /healthz" "${READY_TIMEOUT}" kwok kwok_healthy

nodes_ready() {
  local n
  n="$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -cx True)" || true
  ((n >= NODES + 1))
}
wait_for "$((NODES + 1)) nodes Ready (${NODES} kwok, 1 real)" "${READY_TIMEOUT}" kwok nodes_ready

# The ServiceAccount admission plugin rejects pods until kcm's serviceaccount
# controller has created the namespace's `default` ServiceAccount.
default_sa() { kubectl_admin -n default get serviceaccount default; }
wait_for "ServiceAccount default/default" "${READY_TIMEOUT}" kube-controller-manager default_sa

# The aggregated API answering proves apiserver -> metrics-server works. The
# list itself stays empty until pods run: metrics-server drops a node whose
# CPU counter is 0, and kwok's node usage is the sum of its pods' usage. A
# pod shows up after two scrapes (~30-60 s); VERIFY_METRICS=1 waits for that
# with the smoke Job's pods.
metrics_api() { kubectl_admin get --raw /apis/metrics.k8s.io/v1beta1/nodes | grep -q '"kind":"NodeMetricsList"'; }
wait_for "metrics.k8s.io API answering" "${READY_TIMEOUT}" metrics-server metrics_api

# ---------------------------------------------------------------------------
# 11. Smoke checks: scheduling + kwok pod lifecycle, and that Job pods stay
#     Running (no pod-complete stage); a pod on the real node, Service
#     routing and cluster DNS there (hack/node/smoke.sh). SKIP_SMOKE=1 skips
#     them.
# ---------------------------------------------------------------------------
# kwok_placement <indent>: what puts a pod on the kwok nodes.
kwok_placement() {
  sed "s/^/$1/" <<EOF
nodeSelector: {${KWOK_NODE_SELECTOR%%=*}: ${KWOK_NODE_SELECTOR#*=}}
tolerations:
- {key: ${KWOK_TAINT_KEY}, operator: Exists, effect: NoSchedule}
EOF
}
smoke() {
  local ns=default pod=cluster-up-smoke job=cluster-up-smoke-job
  kubectl_admin -n "${ns}" delete pod "${pod}" --ignore-not-found --wait=true >/dev/null
  kubectl_admin -n "${ns}" delete job "${job}" --ignore-not-found --cascade=foreground --wait=true >/dev/null
  kubectl_admin -n "${ns}" create -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
spec:
  terminationGracePeriodSeconds: 0
$(kwok_placement "  ")
  containers:
  - {name: main, image: fake.invalid/never-pulled:0}
EOF
  pod_running() {
    [[ "$(kubectl_admin -n "${ns}" get pod "${pod}" -o jsonpath='{.status.phase}/{.spec.nodeName}')" == Running/kwok-node-* ]]
  }
  wait_for "smoke pod scheduled on a kwok node and Running" 60 kwok pod_running
  kubectl_admin -n "${ns}" delete pod "${pod}" --wait=true --timeout=60s >/dev/null

  kubectl_admin -n "${ns}" create -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: ${job}
spec:
  completionMode: Indexed
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
$(kwok_placement "      ")
      containers:
      - {name: main, image: fake.invalid/never-pulled:0}
EOF
  job_pods_running() {
    local phases
    phases="$(kubectl_admin -n "${ns}" get pods -l "job-name=${job}" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')"
    [[ "$(grep -cx Running <<<"${phases}")" == 2 ]]
  }
  wait_for "Indexed Job: 2 pods Running" 60 kube-controller-manager job_pods_running
  # Observe for a few seconds that they stay Running and nothing succeeds.
  local i succeeded
  for ((i = 0; i < 6; i++)); do
    sleep 0.5
    job_pods_running || die "Indexed Job pods did not stay Running"
  done
  succeeded="$(kubectl_admin -n "${ns}" get job "${job}" -o jsonpath='{.status.succeeded}')"
  [[ -z "${succeeded}" || "${succeeded}" == 0 ]] || die "Indexed Job reports ${succeeded} succeeded pods; pods must stay Running"
  log "Indexed Job pods stay Running: ok"
  if [[ "${VERIFY_METRICS}" == 1 ]]; then
    job_pod_metrics() {
      [[ "$(kubectl_admin get --raw "/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods?labelSelector=job-name%3D${job}" | grep -o '"window"' | wc -l)" -ge 2 ]]
    }
    wait_for "pod metrics for the smoke Job (kwok -> metrics-server)" "${READY_TIMEOUT}" metrics-server job_pod_metrics
  fi
  kubectl_admin -n "${ns}" delete job "${job}" --cascade=foreground --wait=true --timeout=60s >/dev/null
}
if [[ "${SKIP_SMOKE}" != 1 ]] && ((NODES > 0)); then
  smoke
fi
if [[ "${SKIP_SMOKE}" != 1 ]]; then
  "${HACK_DIR}/node/smoke.sh"
fi

CLUSTER_UP_DONE=1
log "cluster ready in ${SECONDS}s"
print_usage_hint
