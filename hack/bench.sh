#!/usr/bin/env bash
# `make bench`: Go micro-benchmarks of the hot pure functions, then the
# controller against a fresh local control plane with the audit log on,
# at 1, 100, 500 and 1,000 MiniClusters. WRITE=1 also writes BENCHMARKS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

echo "== Go benchmarks"
go test -run '^$' -bench . -benchmem ./pkg/fluxconfig/ ./pkg/controller/ | tee .local-bench-micro.txt

# A cluster of its own, so an e2e cluster in .local/ is left alone.
export LOCAL_DIR="${ROOT}/.local-bench"
hack/cluster-down.sh >/dev/null 2>&1 || true
# Quiet unless cluster-down fails (say, it finds leftovers): then it says
# why and the run fails.
stop_cluster() {
	local rc=$? out
	if ! out="$(KEEP_LOGS=1 hack/cluster-down.sh 2>&1)"; then
		echo "${out}" >&2
		rc=1
	fi
	exit "${rc}"
}
trap stop_cluster EXIT
# kube-controller-manager's client defaults to 20 requests/s; at that rate
# the Job controller, not elasticflux, caps creation at ~4 MiniClusters/s
# (each Job costs it ~5 requests). Production clusters of this size raise it.
KCM_QPS="${KCM_QPS:-100}"
AUDIT=1 NODES=25 SKIP_SMOKE=1 KCM_EXTRA_ARGS="--kube-api-qps=${KCM_QPS} --kube-api-burst=$((KCM_QPS * 2))" hack/cluster-up.sh
export KUBECONFIG="${LOCAL_DIR}/kubeconfig"

args=(--audit-log="${LOCAL_DIR}/logs/audit.log" --kcm-qps="${KCM_QPS}")
if [[ "${WRITE:-0}" == 1 ]]; then
	args+=(--write="${ROOT}/BENCHMARKS.md")
fi
echo "== Controller benchmark"
go run ./hack/bench "${args[@]}" "$@"
if [[ "${WRITE:-0}" == 1 ]]; then
	{
		echo
		echo "## Go benchmarks"
		echo
		echo '```'
		grep -E '^(Benchmark|goos|goarch|cpu|pkg)' .local-bench-micro.txt || true
		echo '```'
	} >>BENCHMARKS.md
fi
rm -f .local-bench-micro.txt
