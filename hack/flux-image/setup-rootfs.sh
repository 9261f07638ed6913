#!/usr/bin/env bash
# Runs inside the new root filesystem (see hack/flux-image.sh) and turns a
# bare Debian into the broker image's tree: flux-core built into /usr, what
# brokers and their start script need at run time, a non-root user, and
# nothing that only the build needed.
#
# Usage (inside the tree): setup-rootfs.sh FLUX_CORE_DIR
#   FLUX_CORE_DIR holds flux-core's build.sh and tarball.
set -Eeuo pipefail
trap 'printf "[setup-rootfs] FAILED at line %s: %s\n" "${LINENO}" "${BASH_COMMAND}" >&2' ERR

FLUX_CORE_DIR=${1:?usage: setup-rootfs.sh FLUX_CORE_DIR}

# What a broker container needs beyond flux-core's own libraries (found with
# ldd below): the Python commands (flux resource, jobs, overlay, ...) import
# cffi's backend, yaml and ply; flux cron is a Lua script and Lua plugins
# load lua-posix; procps gives ps and kill for the start script and for
# whoever debugs a broker. minbase already has sh, coreutils, hostname and
# util-linux (setpriv).
RUNTIME_PKGS=(python3 python3-cffi-backend python3-yaml python3-ply lua5.1 lua-posix procps)

# The broker user of the non-root scenario.
FLUX_USER=flux
FLUX_UID=1000

log() { printf '[setup-rootfs] %s\n' "$*" >&2; }
size() { du -sxm / | cut -f1; }

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${RUNTIME_PKGS[@]}" >/dev/null
log "debootstrap + runtime packages: $(size) MiB"

# What is installed from here on is marked automatic afterwards, so that
# autoremove takes the compilers, headers and autotools away again.
apt-mark showmanual | sort >/tmp/manual-before-build

log "building flux-core into /usr"
mkdir -p /tmp/flux-build
WORK=/tmp/flux-build "${FLUX_CORE_DIR}/build.sh" /usr >&2
log "with flux-core and its build dependencies: $(size) MiB"

# flux_elves prints flux-core's ELF files: the command, its libraries, the
# broker, modules and plugins, the Lua and Python extension modules. (PREFIX
# /usr puts them outside Debian's multiarch and dist-packages directories,
# so these paths hold nothing else.)
flux_elves() {
	find /usr/bin/flux /usr/lib/libflux-* /usr/lib/flux /usr/libexec/flux /usr/lib/lua \
		/usr/lib/python3*/site-packages -type f 2>/dev/null |
		while read -r f; do
			if [[ "$(head -c4 "${f}" | tail -c3)" == ELF ]]; then printf '%s\n' "${f}"; fi
		done
}

# runtime_lib_pkgs prints the Debian packages owning the shared libraries
# flux-core links against. Most came in as dependencies of the -dev packages
# that are about to go: they must stay.
runtime_lib_pkgs() {
	local lib
	flux_elves | xargs ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
		while read -r lib; do
			case "${lib}" in */libflux-*) continue ;; esac # flux-core's own
			# dpkg knows a library under the path it installed, which the
			# /lib -> /usr/lib merge may hide behind another.
			dpkg -S "${lib}" 2>/dev/null || dpkg -S "$(realpath "${lib}")" 2>/dev/null ||
				{ log "no package owns ${lib}"; return 1; }
		done | cut -d: -f1 | sort -u
}

lib_pkgs="$(runtime_lib_pkgs)"
log "flux-core links against libraries of: ${lib_pkgs//$'\n'/ }"
comm -13 /tmp/manual-before-build <(apt-mark showmanual | sort) | xargs -r apt-mark auto >/dev/null
# shellcheck disable=SC2086 # one package a word
apt-mark manual ${lib_pkgs} >/dev/null
# Nothing was installed for its Recommends or Suggests, and keeping what
# remaining packages merely suggest would keep the toolchain (debconf
# suggests perl, perl suggests make).
apt-get autoremove -y -qq --purge \
	-o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false >/dev/null

# The proof that nothing flux-core needs went away with the build packages
# (the checks in check-rootfs.sh then run real instances).
if missing="$(flux_elves | xargs ldd 2>&1 | grep 'not found')"; then
	log "flux-core lost libraries: ${missing}"
	exit 1
fi
for tool in gcc cc make autoconf; do
	if command -v "${tool}" >/dev/null; then
		log "${tool} is still installed after autoremove"
		exit 1
	fi
done
flux version >&2

groupadd --gid "${FLUX_UID}" "${FLUX_USER}"
useradd --uid "${FLUX_UID}" --gid "${FLUX_UID}" --create-home --home-dir "/home/${FLUX_USER}" \
	--shell /bin/bash "${FLUX_USER}"
# Package lists, caches and logs are no use at run time.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \
	/var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/log/bootstrap.log
log "trimmed: $(size) MiB"
