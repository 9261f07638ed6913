# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts sourcing this
# Shared helpers for hack/cluster-up.sh and hack/cluster-down.sh.
# Sourced, not executed. Everything the local control plane writes lives under
# LOCAL_DIR (default <repo>/.local, git-ignored):
#
#   .local/kubeconfig             admin (system:masters) kubeconfig
#   .local/controller.kubeconfig  user elasticflux-controller (no groups)
#   .local/env                    sourceable: ports, KUBECONFIG, ...
#   .local/pki/                   CA, serving cert, SA key pair, front-proxy
#   .local/run/<name>.pid         one pid file per process we started
#   .local/logs/<name>.log        process logs (+ audit.log when AUDIT=1)
#   .local/etcd/                  etcd data
#   .local/node/                  the real node (hack/node/): its env, configs,
#                                 kubelet root, containerd root and state

CLUSTER_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${BIN_DIR:-${CLUSTER_REPO_ROOT}/bin}"
LOCAL_DIR="${LOCAL_DIR:-${CLUSTER_REPO_ROOT}/.local}"
PKI_DIR="${LOCAL_DIR}/pki"
RUN_DIR="${LOCAL_DIR}/run"
LOG_DIR="${LOCAL_DIR}/logs"
ADMIN_KUBECONFIG="${LOCAL_DIR}/kubeconfig"
CONTROLLER_KUBECONFIG="${LOCAL_DIR}/controller.kubeconfig"

# Start order; cluster-down stops them in reverse, then the real node
# (hack/node/down.sh).
CLUSTER_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok metrics-server)

# Addresses every part of the cluster agrees on. The first address of the
# service range is the `kubernetes` Service; kube-dns is the usual tenth.
SERVICE_CIDR="10.0.0.0/24"
KUBERNETES_SERVICE_IP="10.0.0.1"
DNS_SERVICE_IP="10.0.0.10"
CLUSTER_DOMAIN="cluster.local"

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

kubectl_admin() { "${BIN_DIR}/kubectl" --kubeconfig "${ADMIN_KUBECONFIG}" "$@"; }

# pid_of <name>: the pid recorded for a component, if its file exists.
pid_of() {
  local f="${RUN_DIR}/$1.pid"
  [[ -s "${f}" ]] && cat "${f}"
}

# is_ours <name> <pid>: the pid is alive AND is still our binary. Pids get
# recycled, so a bare `kill -0` could make us signal an unrelated process; we
# compare argv[0] (we always exec the absolute path .../bin/<name>). An
# exited process not yet reaped (a zombie: our components are reparented to
# pid 1 once cluster-up exits) has an empty cmdline, so it counts as gone.
is_ours() {
  local name="$1" pid="$2" argv0
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  argv0="$({ tr '\0' '\n' <"/proc/${pid}/cmdline"; } 2>/dev/null | head -n1)" || return 1
  [[ "${argv0}" == */"${name}" ]]
}

# component_alive <name>
component_alive() {
  local pid
  pid="$(pid_of "$1")" || return 1
  is_ours "$1" "${pid}"
}

# start_component <name> <args...>: runs BIN_DIR/<name> in the background
# (see start_process).
start_component() {
  local name="$1"; shift
  start_process "${name}" "${BIN_DIR}/${name}" "$@"
}

# start_process <name> <binary> <args...>: runs the binary in the background,
# detached from this shell (own session via setsid, stdin from /dev/null,
# output to LOG_DIR/<name>.log) so that Ctrl-C in the caller's terminal, the
# caller's exit, or a test harness killing the caller's process group leaves
# the cluster running until cluster-down. It also keeps no pipe of the caller
# open, so `exec.Command("hack/cluster-up.sh").Output()` returns.
# The inner shell writes its own pid and then execs the binary, so the pid
# file holds the binary's real pid whether or not setsid had to fork; the
# binary's path must end in /<name> (see is_ours).
# With PROCESS_NETNS set to a network namespace file, the process runs in
# that network namespace (and only there: mounts and cgroups stay the host's).
start_process() {
  local name="$1" bin="$2"; shift 2
  local pidf="${RUN_DIR}/${name}.pid" i enter=()
  [[ -x "${bin}" ]] || die "${bin} missing: run hack/build-tools.sh"
  [[ -n "${PROCESS_NETNS:-}" ]] && enter=(nsenter "--net=${PROCESS_NETNS}" --)
  rm -f "${pidf}"
  # shellcheck disable=SC2016 # $$ and $@ are for the inner shell
  setsid "${enter[@]}" bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "${pidf}" "${bin}" "$@" \
    </dev/null >>"${LOG_DIR}/${name}.log" 2>&1 9>&- &
  for ((i = 0; i < 100; i++)); do
    [[ -s "${pidf}" ]] && break
    sleep 0.05
  done
  [[ -s "${pidf}" ]] || die "${name} did not start (no pid file)"
  log "started ${name} (pid $(cat "${pidf}"), log ${LOG_DIR}/${name}.log)"
}

# stop_component <name>: SIGTERM, wait up to 20 s, then SIGKILL; only if the
# recorded pid is still our binary. Removes the pid file.
stop_component() {
  local name="$1" pid i
  pid="$(pid_of "${name}")" || return 0
  if is_ours "${name}" "${pid}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      is_ours "${name}" "${pid}" || break
      sleep 0.1
    done
    if is_ours "${name}" "${pid}"; then
      log "${name} (pid ${pid}) ignored SIGTERM for 20s; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        is_ours "${name}" "${pid}" || break
        sleep 0.1
      done
    fi
    log "stopped ${name} (pid ${pid})"
  fi
  rm -f "${RUN_DIR}/${name}.pid"
}

# stop_all: the real node's processes first (their watches would hold up
# the API server's graceful shutdown), then every component we have a pid
# file for, in reverse start order, then the real node's network, whose
# teardown checks that nothing is left behind. The network goes last
# because it holds the API server's address: once that is gone, a client
# still dialling it would be routed to the default gateway, off this
# machine.
stop_all() {
  local i node_down="${CLUSTER_REPO_ROOT}/hack/node/down.sh" rc=0
  if [[ -e "${LOCAL_DIR}/node" ]]; then
    "${node_down}" processes || rc=$?
  fi
  for ((i = ${#CLUSTER_COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${CLUSTER_COMPONENTS[i]}"
  done
  if [[ -e "${LOCAL_DIR}/node" ]]; then
    "${node_down}" network || rc=$?
  fi
  return "${rc}"
}

# write_kubeconfig <file> <server URL> <user> <token>: a kubeconfig for one
# static-token identity, trusting the cluster CA.
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: elasticflux-local
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 <"${PKI_DIR}/ca.crt")
users:
- name: $3
  user:
    token: $4
contexts:
- name: elasticflux-local
  context:
    cluster: elasticflux-local
    user: $3
    namespace: default
current-context: elasticflux-local
EOF
  chmod 600 "$1"
}

# show_log_tail <name> [lines]: for failure reports.
show_log_tail() {
  local f="${LOG_DIR}/$1.log" n="${2:-40}"
  if [[ -f "${f}" ]]; then
    printf '\n----- last %s lines of %s -----\n' "${n}" "${f}" >&2
    tail -n "${n}" "${f}" >&2
    printf -- '----- end of %s -----\n\n' "${f}" >&2
  fi
}

# wait_for <description> <timeout seconds> <component whose log to show> <cmd...>
# Polls cmd every 0.5 s until it succeeds. On timeout, or if the component
# died meanwhile, prints the tail of its log and returns 1.
wait_for() {
  local what="$1" timeout="$2" comp="$3"; shift 3
  local start=${SECONDS}
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "${comp}" ]] && ! component_alive "${comp}"; then
      log "${comp} exited while waiting for ${what}"
      show_log_tail "${comp}" 60
      return 1
    fi
    if ((SECONDS - start >= timeout)); then
      log "timed out after ${timeout}s waiting for ${what}"
      [[ -n "${comp}" ]] && show_log_tail "${comp}" 60
      return 1
    fi
    sleep 0.5
  done
  log "${what}: ok ($((SECONDS - start))s)"
}

# port_in_use <port>: something listens on it (any address).
port_in_use() {
  local p="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htln "sport = :${p}" 2>/dev/null)" ]]
  else
    # No ss: try to connect; success means a listener.
    (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null
  fi
}

# lock_cluster: serialise cluster-up/cluster-down runs on the same LOCAL_DIR
# (say `make e2e` and `make run` racing). The lock lives in /tmp because
# LOCAL_DIR itself is created and removed by these scripts. fd 9 is closed
# for the components (start_component) so they never hold the lock.
lock_cluster() {
  command -v flock >/dev/null 2>&1 || return 0
  local key
  key="$(printf '%s' "${LOCAL_DIR}" | sha256sum | cut -c1-12)"
  exec 9>"/tmp/elasticflux-cluster-${key}.lock"
  if ! flock -n 9; then
    log "another cluster-up/down on ${LOCAL_DIR} is running; waiting for it"
    flock 9
  fi
}
