#!/usr/bin/env bash
# Runs the end-to-end suite against the local control plane. It starts the
# cluster when none is running and stops it again afterwards; a cluster that
# was already up (make cluster-up) is left running for the next run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

export KUBECONFIG="${ROOT}/.local/kubeconfig"
started=0
# A cluster-down that finds leftovers fails the run too.
stop_cluster() {
	local rc=$?
	hack/cluster-down.sh || rc=1
	exit "${rc}"
}
if ! { [[ -f "${KUBECONFIG}" ]] && bin/kubectl get --raw /readyz >/dev/null 2>&1; }; then
	hack/cluster-up.sh
	started=1
fi
if [[ ${started} -eq 1 && "${KEEP_CLUSTER:-0}" != 1 ]]; then
	trap stop_cluster EXIT
fi

# The tests mostly wait on the cluster, so run them side by side.
go test -tags e2e -count=1 -timeout 40m -parallel 10 -v ./e2e/ "$@"
