#!/usr/bin/env bash
# `make image`: the one way the elasticflux image is built. No Docker, no
# registry: static binaries (CGO_ENABLED=0) of controller and selfscale for
# each platform, on an empty base, running as uid/gid 65532, written by
# hack/ociimage as ONE OCI archive (an OCI image layout in a tar whose index
# holds one image per platform).
#
# The version is `git describe --tags --always --dirty`: stamped into both
# binaries and used as the image tag. The creation time is the last
# commit's, so the same tree gives the same image digest.
#
# Out: bin/image/elasticflux.tar, and bin/image/elasticflux.ref holding the
# image reference (what to import and what to put in `images:` or
# --set image.tag). Load it into a containerd with
#   ctr -n k8s.io images import --platform linux/amd64 bin/image/elasticflux.tar
# (seen with containerd 1.6: listed under that reference, unpacked).
#
# Env: IMAGE (default ghcr.io/elasticflux/elasticflux), VERSION, PLATFORMS
# (default "linux/amd64 linux/arm64").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

IMAGE="${IMAGE:-ghcr.io/elasticflux/elasticflux}"
VERSION="${VERSION:-$(git describe --tags --always --dirty)}"
PLATFORMS="${PLATFORMS:-linux/amd64 linux/arm64}"
CREATED="$(git log -1 --format=%ct)"
OUT="${ROOT}/bin/image"
LDFLAGS="-s -w -X github.com/elasticflux/elasticflux/pkg/version.version=${VERSION}"

mkdir -p "${OUT}"
platform_args=()
for platform in ${PLATFORMS}; do
	os="${platform%%/*}"
	arch="${platform#*/}"
	echo "building controller and selfscale for ${platform}"
	CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath -buildvcs=false -ldflags="${LDFLAGS}" \
		-o "${OUT}/${os}_${arch}/" ./cmd/controller ./cmd/selfscale
	platform_args+=(-platform "${platform}")
done

# The binaries this machine can run must say the version they will report.
native="${OUT}/$(go env GOOS)_$(go env GOARCH)"
if [[ -x "${native}/controller" ]]; then
	for binary in controller selfscale; do
		said="$("${native}/${binary}" --version)"
		[[ "${said}" == "${binary} ${VERSION} "* ]] || { echo "${binary} --version says '${said}', want ${VERSION}" >&2; exit 1; }
	done
fi

ref="${IMAGE}:${VERSION}"
go run ./hack/ociimage -format oci -tag "${ref}" -out "${OUT}/elasticflux.tar" "${platform_args[@]}" \
	-file "${OUT}/{os}_{arch}/controller:/usr/local/bin/controller:0755" \
	-file "${OUT}/{os}_{arch}/selfscale:/usr/local/bin/selfscale:0755" \
	-entrypoint /usr/local/bin/controller \
	-user 65532:65532 \
	-created "${CREATED}"
echo "${ref}" >"${OUT}/elasticflux.ref"
echo "image ${ref} in ${OUT}/elasticflux.tar"
