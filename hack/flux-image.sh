#!/usr/bin/env bash
# Builds the container image that runs elasticflux's Flux brokers, with no
# Docker and no registry, and caches it under the git-ignored bin/:
#   1. a Debian 12 root filesystem (debootstrap --variant=minbase bookworm);
#   2. flux-core 0.88.0 built into its /usr by flux-core's build.sh, then the
#      build-only packages removed and a non-root user added
#      (hack/flux-image/setup-rootfs.sh, run chrooted in the tree);
#   3. the tree packed as one layer into a docker-archive tar (hack/ociimage)
#      that `ctr -n k8s.io images import` loads as IMAGE_NAME below.
#
# Usage: hack/flux-image.sh           build, or reuse the cached build
#        hack/flux-image.sh --check   build, then prove that the image works
#                                     (hack/flux-image/check.sh)
#        hack/flux-image.sh --name    print the image name and exit
# stdout is only the archive's path (or the name), so a caller can write
# archive=$(hack/flux-image.sh); progress goes to stderr.
#
# Env: FLUX_CORE_DIR   flux-core's build.sh and tarball (default: the repo's
#                      ../shared/flux-core, else /work/shared/flux-core)
#      FLUX_IMAGE_DIR  cache directory (default <repo>/bin/flux-image)
#      DEBIAN_MIRROR   (default http://deb.debian.org/debian)
#      FORCE=1         rebuild even when the cache matches
#      IMAGE_USER      UID:GID the image runs as (default: root, as Debian's
#                      images do); a variant named ...:0.88.0-user<UID>, for
#                      testing brokers that run as the image's own user
#
# Needs root (debootstrap, chroot, mounts). First build: about 5 minutes on
# 2 cores; a second run with nothing changed: a few seconds.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="${REPO_ROOT}/hack/flux-image"
FLUX_VERSION=0.88.0
IMAGE_USER="${IMAGE_USER:-}"
IMAGE_SUFFIX="${IMAGE_USER:+-user${IMAGE_USER%%:*}}"
IMAGE_NAME="localhost/elasticflux/flux-core:${FLUX_VERSION}${IMAGE_SUFFIX}"
SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
OUT_DIR="${FLUX_IMAGE_DIR:-${REPO_ROOT}/bin/flux-image}"
ROOTFS="${OUT_DIR}/rootfs"
ARCHIVE="${OUT_DIR}/flux-core-${FLUX_VERSION}${IMAGE_SUFFIX}.tar"
# The image's environment: Debian's default PATH, so `kubectl exec POD --
# flux ...` finds flux with nothing set first.
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source=hack/flux-image/lib.sh
source "${HERE}/lib.sh"

log() { printf '[flux-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'log "FAILED at line ${LINENO}: ${BASH_COMMAND}"' ERR

mode=build
case "${1:-}" in
'') ;;
--check) mode=check ;;
--name) echo "${IMAGE_NAME}"; exit 0 ;;
*) die "unknown argument $1 (usage: $0 [--check|--name])" ;;
esac

# flux_core_dir prints the flux-core directory. A clean checkout may live
# anywhere, so the repo-relative ../shared is only one of the places tried.
flux_core_dir() {
	local dir
	for dir in "${FLUX_CORE_DIR:-}" "${REPO_ROOT}/../shared/flux-core" /work/shared/flux-core; do
		if [[ -n "${dir}" && -f "${dir}/build.sh" && -f "${dir}/flux-core-${FLUX_VERSION}.tar.gz" ]]; then
			(cd "${dir}" && pwd)
			return 0
		fi
	done
	die "no flux-core directory with build.sh and flux-core-${FLUX_VERSION}.tar.gz: set FLUX_CORE_DIR (tried \$FLUX_CORE_DIR='${FLUX_CORE_DIR:-}', ${REPO_ROOT}/../shared/flux-core, /work/shared/flux-core)"
}

[[ $(id -u) -eq 0 ]] || die "needs root: debootstrap, chroot and mounts"
for tool in debootstrap chroot unshare flock go sha256sum; do
	command -v "${tool}" >/dev/null 2>&1 || die "${tool} is not installed"
done
FLUX_CORE_DIR="$(flux_core_dir)"

# The keys name everything that shapes what they guard, so a change to any of
# it rebuilds and nothing stale is reused. The tree: these scripts (the one
# run inside it holds the runtime package list), build.sh (with the build
# dependencies), the source tarball, the Debian suite and mirror. The
# archive: the tree's key (this script holds the image's name and config)
# and the packing tool.
rootfs_key="$(
	{
		echo "suite=${SUITE} mirror=${DEBIAN_MIRROR}"
		sha256sum "${BASH_SOURCE[0]}" "${HERE}/setup-rootfs.sh" "${HERE}/in-tree.sh" "${HERE}/lib.sh" \
			"${FLUX_CORE_DIR}/build.sh" "${FLUX_CORE_DIR}/flux-core-${FLUX_VERSION}.tar.gz" | cut -d' ' -f1
	} | sha256sum | cut -d' ' -f1
)"
archive_key="$(
	{
		echo "rootfs=${rootfs_key} user=${IMAGE_USER}"
		cat "${REPO_ROOT}"/hack/ociimage/*.go
		grep go-containerregistry "${REPO_ROOT}/go.mod"
	} | sha256sum | cut -d' ' -f1
)"

mkdir -p "${OUT_DIR}"
# Two runs at once (say make test and make run) must not build the same
# tree; the second waits and then finds the first one's result.
exec 9>"${OUT_DIR}/.lock"
if ! flock -n 9; then
	log "another run holds ${OUT_DIR}/.lock; waiting"
	flock 9
fi

# cached FILE KEY: FILE exists and was finished with KEY. The key file is
# written last, after the rename, so a result without it is never trusted.
cached() { [[ "${FORCE:-0}" != 1 && -e "$1" && -f "$1.key" && "$(cat "$1.key")" == "$2" ]]; }

# A run that was killed leaves its temp tree; with the lock held nothing
# else can be using it.
for stale in "${OUT_DIR}"/build.*; do
	if [[ -e "${stale}" ]]; then remove_tree "${stale}"; fi
done

build_rootfs() {
	local tmp t0
	tmp="$(mktemp -d "${OUT_DIR}/build.XXXXXX")"
	# Removed on any exit; no mount is left under it by then (in-tree.sh
	# mounts only in a namespace of its own).
	trap 'remove_tree "'"${tmp}"'"' EXIT

	t0=${SECONDS}
	log "debootstrap ${SUITE} (minbase) from ${DEBIAN_MIRROR}"
	debootstrap --variant=minbase "${SUITE}" "${tmp}/rootfs" "${DEBIAN_MIRROR}" >"${tmp}/debootstrap.log" 2>&1 ||
		{ tail -20 "${tmp}/debootstrap.log" >&2; die "debootstrap failed"; }
	log "debootstrap done in $((SECONDS - t0))s ($(du -sh "${tmp}/rootfs" | cut -f1))"
	# The image gets an empty /dev: the runtime mounts its own, and so does
	# in-tree.sh for the build.
	find "${tmp}/rootfs/dev" -mindepth 1 -delete
	# apt inside the tree resolves names through the host's resolver.
	cp /etc/resolv.conf "${tmp}/rootfs/etc/resolv.conf"

	t0=${SECONDS}
	local src=/opt/flux-core-src
	mkdir -p "${tmp}/rootfs${src}"
	cp "${FLUX_CORE_DIR}/build.sh" "${FLUX_CORE_DIR}/flux-core-${FLUX_VERSION}.tar.gz" \
		"${HERE}/setup-rootfs.sh" "${tmp}/rootfs${src}/"
	log "building flux-core ${FLUX_VERSION} in the tree, then removing the build packages"
	"${HERE}/in-tree.sh" "${tmp}/rootfs" flux-image-build "${src}/setup-rootfs.sh" "${src}" 2>&1 |
		sed -u 's/^/    /' >&2
	rm -rf "${tmp}/rootfs${src}"
	log "flux-core built, build packages removed, in $((SECONDS - t0))s"

	# What debootstrap copied from this host means nothing in a pod: the
	# runtime provides hostname, hosts and resolv.conf.
	rm -f "${tmp}/rootfs/etc/hostname"
	: >"${tmp}/rootfs/etc/resolv.conf"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"${tmp}/rootfs/etc/hosts"
	# flux's default URI (used when FLUX_URI is unset) is
	# local:///run/flux/local, and a broker accepts a socket directory only
	# if it owns it. Owned by the broker user it serves a non-root broker as
	# shipped; a root broker can chown it. (Made here: /run is a tmpfs
	# during the build.)
	local owner
	owner="$(awk -F: '$1 == "flux" { print $3 ":" $4 }' "${tmp}/rootfs/etc/passwd")"
	install -d -m 0700 -o "${owner%:*}" -g "${owner#*:}" "${tmp}/rootfs/run/flux"
	log "tree: $(du -sh "${tmp}/rootfs" | cut -f1)"

	rm -f "${ROOTFS}.key" "${ARCHIVE}.key"
	if [[ -e "${ROOTFS}" ]]; then remove_tree "${ROOTFS}"; fi
	mv "${tmp}/rootfs" "${ROOTFS}"
	echo "${rootfs_key}" >"${ROOTFS}.key"
	remove_tree "${tmp}"
	trap - EXIT
}

pack_archive() {
	local t0=${SECONDS}
	log "packing ${ROOTFS} as ${IMAGE_NAME}"
	rm -f "${ARCHIVE}.key"
	(cd "${REPO_ROOT}" && go run ./hack/ociimage -tag "${IMAGE_NAME}" -out "${ARCHIVE}" \
		-dir "${ROOTFS}" -env "PATH=${IMAGE_PATH}" -env LANG=C.UTF-8 -workdir / -cmd /bin/bash \
		${IMAGE_USER:+-user "${IMAGE_USER}"})
	echo "${archive_key}" >"${ARCHIVE}.key"
	log "archive: $(du -h "${ARCHIVE}" | cut -f1) in $((SECONDS - t0))s"
}

t_all=${SECONDS}
if cached "${ROOTFS}" "${rootfs_key}"; then
	log "tree up to date: ${ROOTFS}"
else
	build_rootfs
fi
if cached "${ARCHIVE}" "${archive_key}"; then
	log "archive up to date: ${ARCHIVE}"
else
	pack_archive
fi
log "${IMAGE_NAME} ready in $((SECONDS - t_all))s: ${ARCHIVE}"

if [[ "${mode}" == check ]]; then
	"${HERE}/check.sh" "${ROOTFS}" "${ARCHIVE}" "${IMAGE_NAME}"
fi
echo "${ARCHIVE}"
