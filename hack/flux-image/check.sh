#!/usr/bin/env bash
# Proves that the broker image works, for real:
#   1. in its tree (chrooted on a throwaway overlay, private namespaces):
#      check-rootfs.sh runs Flux instances of two brokers as root and as the
#      non-root broker user;
#   2. in a private containerd (its own socket, root and state in a temp
#      directory, never the system's): the archive imports, the image is
#      listed under its name, and containers of it run flux.
# Everything started here is stopped by pid and everything made is removed,
# mounts included.
#
# Usage: hack/flux-image/check.sh ROOTFS ARCHIVE IMAGE_NAME
#        (hack/flux-image.sh --check builds the image, then runs this)
# Under CI=true a missing prerequisite fails the check; elsewhere it is
# skipped with a warning.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=hack/flux-image/lib.sh
source "${HERE}/lib.sh"

ROOTFS="$(realpath "${1:?usage: check.sh ROOTFS ARCHIVE IMAGE_NAME}")"
ARCHIVE="$(realpath "${2:?archive}")"
IMAGE_NAME="${3:?image name}"
FLUX_VERSION="${IMAGE_NAME##*:}"

log() { printf '[flux-image check %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# missing NAME WHY: a prerequisite is missing. A skipped check is no pass in
# CI, so there it fails.
not_checked=
missing() {
	if [[ "${CI:-}" == true ]]; then fail "$1 is missing: $2"; fi
	log "WARNING: $1 is missing, so $2 is NOT checked"
	not_checked+="${not_checked:+, }$2"
}

[[ $(id -u) -eq 0 ]] || fail "needs root: chroot, namespaces, containerd"
[[ -d "${ROOTFS}" && -f "${ARCHIVE}" ]] || fail "no image at ${ROOTFS} / ${ARCHIVE}: run hack/flux-image.sh first"

check_tree() {
	log "in the tree: flux version, instances of 2 brokers as root and as flux"
	# The script goes in through stdin and is written into the overlay, so
	# it can start itself as an instance's initial program.
	# shellcheck disable=SC2016 # $1 is expanded by the shell in the tree
	"${HERE}/in-tree.sh" --overlay "${ROOTFS}" flux-check-0 bash -c \
		'cat >/tmp/check-rootfs.sh && chmod 0755 /tmp/check-rootfs.sh && exec /tmp/check-rootfs.sh "$1" </dev/null' \
		check-rootfs "${FLUX_VERSION}" <"${HERE}/check-rootfs.sh"
	if mounted_under "${ROOTFS}"; then fail "a mount is left under ${ROOTFS}"; fi
	log "tree: passed, nothing left mounted"
}

containerd_pid=
containerd_dir=
# stop_containerd stops the private containerd by its pid, then any shim it
# left (found by the private socket path in its command line, so only ours),
# then removes its directory.
stop_containerd() {
	local pid
	if [[ -n "${containerd_pid}" ]] && kill -0 "${containerd_pid}" 2>/dev/null; then
		kill -TERM "${containerd_pid}"
		for _ in $(seq 100); do kill -0 "${containerd_pid}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${containerd_pid}" 2>/dev/null || true
		wait "${containerd_pid}" 2>/dev/null || true
	fi
	local cmdline args
	for cmdline in /proc/[0-9]*/cmdline; do
		mapfile -d '' -t args <"${cmdline}" 2>/dev/null || continue
		[[ "${args[*]}" == *"${containerd_dir}/"* ]] || continue
		pid="${cmdline#/proc/}"
		pid="${pid%/cmdline}"
		log "stopping leftover ${pid}: ${args[*]}"
		kill -KILL "${pid}" 2>/dev/null || true
	done
	if [[ -n "${containerd_dir}" && -d "${containerd_dir}" ]]; then
		# containerd mounted only in its own mount namespace, which died
		# with it; remove_tree refuses should anything still show here.
		remove_tree "${containerd_dir}"
	fi
}

check_containerd() {
	local tool
	for tool in containerd ctr runc containerd-shim-runc-v2 unshare; do
		if ! command -v "${tool}" >/dev/null 2>&1; then
			missing "${tool}" "importing into containerd and running the image"
			return 0
		fi
	done
	containerd_dir="$(mktemp -d /tmp/flux-image-containerd.XXXXXX)"
	trap stop_containerd EXIT
	local sock="${containerd_dir}/containerd.sock"
	# Only what an import and a plain container need: no CRI plugin (that
	# one would want CNI and a streaming port), every path in the temp dir.
	cat >"${containerd_dir}/config.toml" <<EOF
version = 2
root = "${containerd_dir}/root"
state = "${containerd_dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${containerd_dir}/opt"
EOF
	# A mount namespace of its own: the snapshots it mounts can never
	# outlive it or show on the host.
	unshare --mount --propagation private containerd --config "${containerd_dir}/config.toml" \
		>"${containerd_dir}/containerd.log" 2>&1 &
	containerd_pid=$!
	local ctr=(ctr --address "${sock}" --namespace k8s.io)
	for _ in $(seq 150); do
		"${ctr[@]}" version >/dev/null 2>&1 && break
		kill -0 "${containerd_pid}" 2>/dev/null || { tail -20 "${containerd_dir}/containerd.log" >&2; fail "containerd exited"; }
		sleep 0.2
	done
	"${ctr[@]}" version >/dev/null || fail "containerd did not answer on ${sock}"
	log "private containerd ${containerd_pid} on ${sock}"

	"${ctr[@]}" images import "${ARCHIVE}" >&2
	"${ctr[@]}" images ls >&2
	"${ctr[@]}" images ls -q | grep -qxF "${IMAGE_NAME}" || fail "${IMAGE_NAME} is not listed after the import"

	# A cgroup path of our own, removed with the container: the default
	# /k8s.io/<id> would leave its parent behind.
	local id="flux-image-check-$$" out
	local run=("${ctr[@]}" run --rm --cgroup "/${id}" "${IMAGE_NAME}" "${id}")
	out="$("${run[@]}" flux version)" || fail "flux version in a container exited $?"
	printf '%s\n' "${out}" >&2
	grep -q "^commands:[[:space:]]*${FLUX_VERSION}\$" <<<"${out}" || fail "flux version in a container is not ${FLUX_VERSION}"
	# As the broker user, as a pod of the non-root scenario would. The
	# container's network namespace has no default route, so brokers look
	# up their hostname: map it the way the kubelet's /etc/hosts does.
	# shellcheck disable=SC2016 # expanded by the shell in the container
	out="$("${run[@]}" sh -c '
		echo "127.0.0.1 $(hostname)" >>/etc/hosts &&
		exec setpriv --reuid=flux --regid=flux --init-groups --reset-env \
			flux start --test-size=2 sh -c "flux run -N2 id -u && flux resource list --states=up -no {nnodes}"')" ||
		fail "flux start as user flux in a container exited $?"
	[[ "${out}" == $'1000\n1000\n2' ]] || fail "flux as user flux in a container printed '${out}'"
	if compgen -G "/sys/fs/cgroup/${id}" >/dev/null || compgen -G "/sys/fs/cgroup/*/${id}" >/dev/null; then
		fail "the containers' cgroup ${id} is left behind"
	fi
	log "containerd: imported, listed, and ran flux as root and as uid 1000"

	stop_containerd
	trap - EXIT
	[[ ! -e "${containerd_dir}" ]] || fail "${containerd_dir} was not removed"
	log "containerd: stopped, its directory removed"
}

check_tree
check_containerd
if [[ -n "${not_checked}" ]]; then
	log "${IMAGE_NAME}: the checks that ran passed; NOT checked: ${not_checked}"
else
	log "${IMAGE_NAME}: all checks passed"
fi
