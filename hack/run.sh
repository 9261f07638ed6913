#!/usr/bin/env bash
# `make run`: the controller in the foreground against a cluster. With no
# KUBECONFIG it brings up the local control plane first (hack/cluster-up.sh),
# installs the CRD, applies the sample MiniCluster and says what to try.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

KUBECTL=kubectl
if [[ -z "${KUBECONFIG:-}" ]]; then
	hack/build-tools.sh
	hack/cluster-up.sh
	export KUBECONFIG="${ROOT}/.local/kubeconfig"
	KUBECTL="${ROOT}/bin/kubectl"
fi

"${KUBECTL}" apply --server-side -f manifests/crd
"${KUBECTL}" wait --for=condition=Established --timeout=60s crd/miniclusters.elasticflux.io
"${KUBECTL}" apply -f manifests/samples/minicluster.yaml

cat <<MSG

The controller runs below; the sample MiniCluster flux-sample is applied.
In another shell:

  export KUBECONFIG=${KUBECONFIG}
  ${KUBECTL} get mc,jobs,pods
  ${KUBECTL} scale mc/flux-sample --replicas=5
  ${KUBECTL} get mc flux-sample -w

Stop with Ctrl-C; 'make cluster-down' stops the local cluster.

MSG
exec "${ROOT}/bin/controller" --kubeconfig="${KUBECONFIG}" --leader-elect=false --metrics-bind-address=127.0.0.1:18080 --health-probe-bind-address=127.0.0.1:18081
