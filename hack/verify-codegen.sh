#!/usr/bin/env bash
# Fails when generated code, the CRD or manifests/ (rendered from the chart)
# is stale: regenerates into a copy of the tree and compares.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

# Copy the source tree (not bin/ or .local/) and generate there.
tar -C "${ROOT}" --exclude=./bin --exclude=./.local --exclude=./.git -cf - . | tar -C "${TMP}" -xf -
OUTPUT_ROOT="${TMP}" "${ROOT}/hack/update-codegen.sh" >/dev/null

status=0
for dir in pkg/apis pkg/generated charts/elasticflux/crds manifests/crd manifests/rbac manifests/controller manifests/kustomization.yaml; do
	if ! diff -Naupr "${ROOT}/${dir}" "${TMP}/${dir}"; then
		status=1
	fi
done
if [[ ${status} -ne 0 ]]; then
	echo "generated code is stale: run 'make generate'" >&2
	exit 1
fi
echo "generated code is up to date"
