#!/usr/bin/env bash
# Runs inside the finished broker tree, on a throwaway overlay (see
# check.sh), and proves that what brokers need is there and works: real Flux
# instances of two brokers, as root and as the non-root broker user, answer
# the commands the tests and the broker scripts use.
#
# Usage (inside the tree): check-rootfs.sh FLUX_VERSION
#   check-rootfs.sh --in-instance   (itself, as the initial program of an instance)
set -euo pipefail

fail() {
	printf 'check-rootfs: FAIL: %s\n' "$*" >&2
	exit 1
}
ok() { printf 'check-rootfs: ok: %s\n' "$*" >&2; }

# in_instance queries a running instance of two brokers (this script is its
# initial program) the way the tests and the broker scripts do.
in_instance() {
	local out
	flux run -N2 true
	out="$(flux resource list)" && printf '%s\n' "${out}" >&2
	[[ "$(flux resource list --states=up -no '{nnodes}')" == 2 ]] || fail "flux resource list: not 2 nodes up"
	out="$(flux jobs -a)" && printf '%s\n' "${out}" >&2
	[[ "$(flux jobs -a -no '{name} {status} {nnodes}')" == "true COMPLETED 2" ]] || fail "flux jobs -a: the job is not listed as completed on 2 nodes"
	out="$(flux overlay status)" && printf '%s\n' "${out}" >&2
	[[ "$(flux overlay status --summary)" == full ]] || fail "flux overlay status: not full"
	[[ "$(flux R encode --ranks=0-1 --cores=0-1 | flux R decode --count=core)" == 4 ]] || fail "flux R encode | decode"
	flux dump --quiet /tmp/check-dump.tar
	[[ -s /tmp/check-dump.tar ]] || fail "flux dump wrote nothing"
	rm -f /tmp/check-dump.tar
	[[ "$(flux getattr local-uri)" == "local://$(flux getattr rundir)/local-0" ]] || fail "local-uri is not <rundir>/local-0"
}

if [[ "${1:-}" == --in-instance ]]; then
	in_instance
	exit 0
fi
FLUX_VERSION=${1:?usage: check-rootfs.sh FLUX_VERSION}
self="$(realpath "$0")"

# What the start script and a user's `kubectl exec` reach for.
for tool in sh bash hostname ps kill timeout sleep setpriv python3 flux; do
	command -v "${tool}" >/dev/null || fail "${tool} is not on PATH"
done
python3 -c 'import _cffi_backend, yaml, ply' || fail "a Python module flux needs is missing"
for tool in gcc cc make autoconf; do
	if command -v "${tool}" >/dev/null; then fail "build tool ${tool} is still in the image"; fi
done
[[ "$(id -u flux):$(id -g flux)" == 1000:1000 ]] || fail "user flux is not 1000:1000"
[[ "$(stat -c %U /home/flux)" == flux ]] || fail "/home/flux is not flux's"
[[ "$(stat -c '%U %a' /run/flux)" == "flux 700" ]] || fail "/run/flux is not flux's, mode 700"
ok "runtime tools, Python modules, user flux 1000:1000, no build tools"

version="$(flux version)"
printf '%s\n' "${version}" >&2
grep -q "^commands:[[:space:]]*${FLUX_VERSION}\$" <<<"${version}" || fail "flux version is not ${FLUX_VERSION}"

# as WHO COMMAND...: run COMMAND as root or as the broker user, with the
# environment a login of that user would have.
as() {
	local who=$1
	shift
	if [[ "${who}" == root ]]; then
		"$@"
	else
		setpriv --reuid="${who}" --regid="${who}" --init-groups --reset-env "$@"
	fi
}

for who in root flux; do
	# Both brokers share this namespace's hostname.
	out="$(as "${who}" flux start --test-size=2 flux run -N2 hostname)"
	[[ "${out}" == "$(hostname)"$'\n'"$(hostname)" ]] || fail "as ${who}: flux run -N2 hostname printed '${out}'"
	ok "as ${who}: flux start --test-size=2 flux run -N2 hostname: ${out//$'\n'/ }"
	as "${who}" flux start --test-size=2 "${self}" --in-instance
	ok "as ${who}: flux resource list, jobs -a, overlay status, R, dump in an instance of 2"
done

# flux with FLUX_URI unset connects to local:///run/flux/local, and the
# image's /run/flux lets a broker running as the broker user put its socket
# there: a command run later in the container then needs nothing set.
out="$(as flux flux start -Slocal-uri=local:///run/flux/local env -u FLUX_URI flux getattr local-uri)"
[[ "${out}" == local:///run/flux/local ]] || fail "a broker of user flux at local:///run/flux/local: '${out}'"
ok "as flux: a broker at local:///run/flux/local answers flux with FLUX_URI unset"
