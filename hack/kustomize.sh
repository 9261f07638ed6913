#!/usr/bin/env bash
# Runs the kustomize pinned in hack/tools/helm/go.mod beside Helm, so the
# chart and manifests/ can be compared without a cluster. Arguments go to
# kustomize.
set -o errexit -o nounset -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off
exec go tool -modfile="${ROOT}/hack/tools/helm/go.mod" kustomize "$@"
