#!/usr/bin/env bash
# `make run`: the controller in the foreground against a cluster. With no
# KUBECONFIG it brings up the local cluster first (hack/cluster-up.sh),
# loads the Flux image into its real node, installs the CRD, applies the
# sample MiniCluster with that image and says what to try.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

SAMPLE=manifests/samples/minicluster.yaml
KUBECTL=kubectl
if [[ -z "${KUBECONFIG:-}" ]]; then
	hack/build-tools.sh
	# Built once from Debian's packages and flux-core; later runs reuse it.
	flux_archive="$(hack/flux-image.sh)"
	hack/cluster-up.sh
	export KUBECONFIG="${ROOT}/.local/kubeconfig"
	KUBECTL="${ROOT}/bin/kubectl"
	hack/node/import-image.sh "${flux_archive}"
	# Nothing is pulled here: the sample runs the local Flux image instead
	# of the public one it names.
	sample="$("${KUBECTL}" patch --local -f "${SAMPLE}" --type=merge -o yaml \
		-p "{\"spec\":{\"container\":{\"image\":\"$(hack/flux-image.sh --name)\",\"imagePullPolicy\":\"Never\"}}}")"
else
	sample="$(cat "${SAMPLE}")"
fi

"${KUBECTL}" apply --server-side -f manifests/crd
"${KUBECTL}" wait --for=condition=Established --timeout=60s crd/miniclusters.elasticflux.io
printf '%s\n' "${sample}" | "${KUBECTL}" apply -f -

cat <<MSG

The controller runs below; the sample MiniCluster flux-sample is applied.
In another shell:

  export KUBECONFIG=${KUBECONFIG}
  ${KUBECTL} get mc,pods
  ${KUBECTL} exec job/flux-sample -- flux resource list
  ${KUBECTL} scale mc/flux-sample --replicas=4
  ${KUBECTL} exec job/flux-sample -- flux resource list

Stop with Ctrl-C; 'make cluster-down' stops the local cluster.

MSG
exec "${ROOT}/bin/controller" --kubeconfig="${KUBECONFIG}" --leader-elect=false --metrics-bind-address=127.0.0.1:18080 --health-probe-bind-address=127.0.0.1:18081
