#!/usr/bin/env bash
# Runs the Helm pinned in hack/tools/helm/go.mod (a `tool` of its own module,
# so Helm's dependencies stay out of the main go.mod). Arguments go to helm.
set -o errexit -o nounset -o pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GOWORK=off
exec go tool -modfile="${ROOT}/hack/tools/helm/go.mod" helm "$@"
