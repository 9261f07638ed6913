#!/usr/bin/env bash
# Writes manifests/ (crd/, rbac/, controller/, kustomization.yaml) from the
# Helm chart at its default values, so the two installs never drift: the
# chart is the source, manifests/ is `helm template` split into files.
# Differences, on purpose: manifests/ creates the elasticflux-system
# Namespace (Helm leaves that to --create-namespace) and carries no Helm
# labels (helm.sh/chart, app.kubernetes.io/managed-by).
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# OUTPUT_ROOT lets verify-codegen.sh generate into a copy of the tree.
OUTPUT_ROOT="${OUTPUT_ROOT:-${ROOT}}"

"${ROOT}/hack/helm.sh" template elasticflux "${OUTPUT_ROOT}/charts/elasticflux" \
	--namespace elasticflux-system --include-crds --set createNamespace=true |
	(cd "${ROOT}" && go run ./hack/manifestgen -out "${OUTPUT_ROOT}/manifests")
