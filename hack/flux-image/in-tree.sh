#!/usr/bin/env bash
# Runs a command chrooted in a root filesystem, the way a container would
# see it: its own hostname, /proc, /dev, /tmp and /run.
#
# Usage: in-tree.sh [--overlay] ROOT HOSTNAME COMMAND [ARG...]
#   --overlay  ROOT stays untouched: the command writes to a throwaway
#              layer on top (for checks of a finished tree).
# Env passed into the tree: JOBS (make -j for the build).
#
# Everything runs in private mount, UTS and PID namespaces. Every mount made
# here lives only in that mount namespace, so none can outlive the command,
# however it ends; the trap also unmounts them in order on the way out. The
# command's processes die with the PID namespace, so no broker stays behind.
set -euo pipefail

if [[ "${IN_TREE_NAMESPACE:-}" != 1 ]]; then
	# The namespace dies with its caller: --pdeathsig kills unshare when the
	# caller dies, and --kill-child then kills the namespace's first process,
	# which takes every other process in it along.
	exec setpriv --pdeathsig KILL unshare --mount --uts --pid --fork --kill-child --propagation private \
		env IN_TREE_NAMESPACE=1 "$0" "$@"
fi

overlay=0
if [[ "${1:-}" == --overlay ]]; then
	overlay=1
	shift
fi
root="$(realpath "${1:?usage: in-tree.sh [--overlay] ROOT HOSTNAME COMMAND...}")"
name="${2:?hostname}"
shift 2

mounts=()
mnt() {
	mount "$@"
	mounts+=("${@: -1}")
}
unmount_all() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}"
	done
}
trap unmount_all EXIT

if [[ ${overlay} == 1 ]]; then
	# The upper layer is a tmpfs: what the command writes is gone with it.
	scratch="$(mktemp -d /tmp/in-tree.XXXXXX)"
	trap 'unmount_all; rmdir "${scratch}"' EXIT
	mnt -t tmpfs in-tree "${scratch}"
	mkdir "${scratch}/upper" "${scratch}/work" "${scratch}/merged"
	mnt -t overlay in-tree -o "lowerdir=${root},upperdir=${scratch}/upper,workdir=${scratch}/work" "${scratch}/merged"
	root="${scratch}/merged"
fi

hostname "${name}"
mnt -t proc proc "${root}/proc"
# hwloc reads the CPU topology from /sys; brokers count cores with it.
mnt -t sysfs -o ro,nosuid,nodev,noexec sysfs "${root}/sys"
# A small /dev of its own rather than the host's: nothing in the tree can
# create or remove the host's device nodes.
mnt -t tmpfs -o mode=0755,nosuid dev "${root}/dev"
for node in null zero full random urandom tty; do
	: >"${root}/dev/${node}"
	mnt --bind "/dev/${node}" "${root}/dev/${node}"
done
ln -s /proc/self/fd "${root}/dev/fd"
ln -s /proc/self/fd/0 "${root}/dev/stdin"
ln -s /proc/self/fd/1 "${root}/dev/stdout"
ln -s /proc/self/fd/2 "${root}/dev/stderr"
mkdir "${root}/dev/pts" "${root}/dev/shm"
mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "${root}/dev/pts"
ln -s pts/ptmx "${root}/dev/ptmx"
mnt -t tmpfs -o mode=1777,nosuid,nodev shm "${root}/dev/shm"
if [[ ${overlay} == 0 ]]; then
	# Scratch space of the build is not part of the image. (On an overlay
	# it is thrown away anyway, and the tree's own /run must show.)
	mnt -t tmpfs -o mode=1777 tmp "${root}/tmp"
	mnt -t tmpfs -o mode=0755 run "${root}/run"
fi

# A clean environment: nothing of the host's (GOPATH, CI, ...) leaks in.
chroot "${root}" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive JOBS="${JOBS:-2}" \
	"$@"
