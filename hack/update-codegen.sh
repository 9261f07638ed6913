#!/usr/bin/env bash
# Regenerates everything derived from pkg/apis: deepcopy and register code,
# the typed clientset (with scale methods), listers, informers, apply
# configurations and the CRD; then manifests/ from the chart. Generators
# come from the versions pinned in go.mod (Helm: hack/tools/helm/go.mod),
# never from whatever happens to be installed.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# OUTPUT_ROOT lets verify-codegen.sh generate into a copy of the tree.
OUTPUT_ROOT="${OUTPUT_ROOT:-${ROOT}}"
cd "${OUTPUT_ROOT}"

go mod download k8s.io/code-generator
CODEGEN_PKG="$(go list -m -f '{{.Dir}}' k8s.io/code-generator)"
# The generators are installed into the project's bin/, not the user's GOBIN.
export GOBIN="${ROOT}/bin/codegen"
mkdir -p "${GOBIN}"
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"
MODULE="github.com/elasticflux/elasticflux"

kube::codegen::gen_helpers --boilerplate "${BOILERPLATE}" pkg/apis
kube::codegen::gen_register --boilerplate "${BOILERPLATE}" pkg/apis
kube::codegen::gen_client \
	--with-watch \
	--with-applyconfig \
	--output-dir pkg/generated \
	--output-pkg "${MODULE}/pkg/generated" \
	--boilerplate "${BOILERPLATE}" \
	pkg/apis

# client-gen's ApplyScale takes its Scale apply configuration from our own
# applyconfiguration tree (kubernetes/kubernetes#119360), so generate the
# autoscaling/v1 apply configurations there too, together with ours.
"${GOBIN}/applyconfiguration-gen" \
	--output-dir pkg/generated/applyconfiguration \
	--output-pkg "${MODULE}/pkg/generated/applyconfiguration" \
	--go-header-file "${BOILERPLATE}" \
	"${MODULE}/pkg/apis/elasticflux/v1alpha1" \
	k8s.io/api/autoscaling/v1

# The CRD is generated from the same types into the chart; controller-gen is
# a go.mod tool. manifests/ is then rendered from the chart.
go tool controller-gen crd:crdVersions=v1 paths=./pkg/apis/... output:crd:artifacts:config=charts/elasticflux/crds
OUTPUT_ROOT="${OUTPUT_ROOT}" "${ROOT}/hack/update-manifests.sh"
