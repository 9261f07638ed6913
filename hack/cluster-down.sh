#!/usr/bin/env bash
# Stops the local control plane started by hack/cluster-up.sh and removes its
# state (.local/). Only the processes recorded in .local/run/*.pid are
# signalled, and only while they still are our binaries (pids get recycled);
# nothing is killed by name. Idempotent: with no cluster it just says so.
#
# Env: KEEP_LOGS=1  keep .local/logs/ (incl. audit.log), remove the rest
#      LOCAL_DIR    state directory (default <repo>/.local)
set -euo pipefail

# shellcheck source=hack/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"

KEEP_LOGS="${KEEP_LOGS:-0}"

# --locked: called by cluster-up.sh, which already holds the lock.
if [[ "${1:-}" != --locked ]]; then
  lock_cluster
fi

if [[ ! -d "${LOCAL_DIR}" ]]; then
  log "no cluster state in ${LOCAL_DIR}; nothing to do"
  exit 0
fi

stop_all

# Only delete a directory cluster-up made (marker file), or an empty one, so
# a mistaken LOCAL_DIR can never wipe unrelated files.
if [[ ! -e "${LOCAL_DIR}/.elasticflux-cluster" ]] && [[ -n "$(ls -A "${LOCAL_DIR}")" ]]; then
  die "${LOCAL_DIR} has no .elasticflux-cluster marker; not removing it"
fi
if [[ "${KEEP_LOGS}" == 1 && -d "${LOG_DIR}" ]]; then
  find "${LOCAL_DIR}" -mindepth 1 -maxdepth 1 ! -name logs ! -name .elasticflux-cluster -exec rm -rf {} +
  log "stopped; removed state, kept logs in ${LOG_DIR}"
else
  rm -rf "${LOCAL_DIR}"
  log "stopped; removed ${LOCAL_DIR}"
fi
