#!/usr/bin/env bash
# Builds the local cluster's binaries into the repo's git-ignored bin/:
#   etcd kube-apiserver kube-controller-manager kube-scheduler kubectl
#   kwok metrics-server                        (the control plane)
#   kubelet kube-proxy coredns                 (the real node, hack/node/)
# Everything comes from the Go module proxy through the pinned tools modules
# under hack/tools/ (go.mod + go.sum committed, so builds are reproducible).
#
# A binary is rebuilt only when it is missing or its stamp changed. The stamp
# hashes the tools module's go.mod/go.sum, the Go version and the build flags,
# so a second run is near-instant and bumping a version in hack/tools/*/go.mod
# rebuilds just the affected binaries.
#
# First build: about 5 minutes on 2 cores (the three kube servers dominate).
#
# Usage: hack/build-tools.sh [name ...]     (default: all)
# Env:   BIN_DIR  output directory (default <repo>/bin)
#        FORCE=1  rebuild even if the stamp matches
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${REPO_ROOT}/hack/tools"
BIN_DIR="${BIN_DIR:-${REPO_ROOT}/bin}"
STAMP_DIR="${BIN_DIR}/.stamps"
FORCE="${FORCE:-0}"

# name | tools module dir (relative to hack/tools) | main package
TOOLS=(
  "etcd|etcd|go.etcd.io/etcd/server/v3"
  "kube-apiserver|.|k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager|.|k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler|.|k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl|.|k8s.io/kubernetes/cmd/kubectl"
  "kubelet|.|k8s.io/kubernetes/cmd/kubelet"
  "kube-proxy|.|k8s.io/kubernetes/cmd/kube-proxy"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok"
  "metrics-server|metrics-server|sigs.k8s.io/metrics-server/cmd/metrics-server"
  "coredns|coredns|github.com/coredns/coredns"
)

log() { printf '[build-tools %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# module_version <go.mod> <module path>: the version required in that go.mod.
module_version() {
  awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"
}

# ldflags_for <name> <module dir>: -s -w keeps the binaries small (no symbol
# table / DWARF); -X stamps the release version so `kubectl version`, the
# apiserver's /version and metrics-server report real versions instead of
# "v0.0.0-master". No build date, so the binaries are reproducible.
ldflags_for() {
  local name="$1" moddir="$2" flags="-s -w" v
  case "${name}" in
    kube-*|kubectl|kubelet)
      v="$(module_version "${moddir}/go.mod" k8s.io/kubernetes)"
      local major minor rest
      major="${v#v}"; major="${major%%.*}"
      rest="${v#v*.}"; minor="${rest%%.*}"
      local pkg
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X ${pkg}.gitVersion=${v} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean"
      done
      ;;
    metrics-server)
      v="$(module_version "${moddir}/go.mod" sigs.k8s.io/metrics-server)"
      flags+=" -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=${v}"
      ;;
  esac
  printf '%s' "${flags}"
}

want=("$@")
selected() {
  [[ ${#want[@]} -eq 0 ]] && return 0
  local w
  for w in "${want[@]}"; do [[ "${w}" == "$1" ]] && return 0; done
  return 1
}

mkdir -p "${BIN_DIR}" "${STAMP_DIR}"

# Two callers at once (say `make e2e` and `make run`) must not both write the
# same binary: serialise on a lock file when flock(1) is available.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${BIN_DIR}/.build-tools.lock"
  if ! flock -n 9; then
    log "another build-tools run holds ${BIN_DIR}/.build-tools.lock; waiting"
    flock 9
  fi
fi

go_version="$(go env GOVERSION) $(go env GOOS)/$(go env GOARCH)"
# Static binaries: no C toolchain needed, same as upstream release builds.
export CGO_ENABLED=0
# The tools modules stand alone: never let a go.work higher up pull them into
# (or refuse them from) a workspace.
export GOWORK=off

start_all=${SECONDS}
built=0
for entry in "${TOOLS[@]}"; do
  IFS='|' read -r name mod pkg <<<"${entry}"
  selected "${name}" || continue
  moddir="${TOOLS_DIR}/${mod}"
  ldflags="$(ldflags_for "${name}" "${moddir}")"
  stamp="$(
    {
      echo "name=${name} pkg=${pkg} go=${go_version} ldflags=${ldflags} flags=-trimpath"
      cat "${moddir}/go.mod" "${moddir}/go.sum"
    } | sha256sum | cut -d' ' -f1
  )"
  out="${BIN_DIR}/${name}"
  if [[ "${FORCE}" != 1 && -x "${out}" && -f "${STAMP_DIR}/${name}" && "$(cat "${STAMP_DIR}/${name}")" == "${stamp}" ]]; then
    log "${name}: up to date"
    continue
  fi
  modlabel="hack/tools"; [[ "${mod}" != . ]] && modlabel+="/${mod}"
  log "${name}: building ${pkg} (module ${modlabel})..."
  t0=${SECONDS}
  # Build to a temp name and rename, so an interrupted build never leaves a
  # truncated binary that a later run would mistake for a good one.
  # -mod=readonly: fail rather than silently change the pinned go.mod/go.sum.
  (cd "${moddir}" && go build -mod=readonly -buildvcs=false -trimpath \
    -ldflags="${ldflags}" -o "${out}.tmp" "${pkg}")
  mv -f "${out}.tmp" "${out}"
  echo "${stamp}" >"${STAMP_DIR}/${name}"
  built=$((built + 1))
  log "${name}: done in $((SECONDS - t0))s ($(du -h "${out}" | cut -f1))"
done
log "all tools ready in ${BIN_DIR} (${built} built, $((SECONDS - start_all))s)"
