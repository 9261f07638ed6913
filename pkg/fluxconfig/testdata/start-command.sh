#!/bin/sh
# shellcheck disable=SC2016
# (Values from the MiniCluster are single-quoted on purpose: nothing in
# them expands.)
#
# Starts one Flux broker of an elasticflux MiniCluster. Rendered by
# elasticflux: change the MiniCluster, not this file.
#
# JOB_COMPLETION_INDEX is the pod's index in its Indexed Job. The pod's
# hostname is <name>-<index>, and a broker's rank is the position of its
# hostname in the bootstrap hosts list: the same number.
#
# Exit status: 143 when Kubernetes stopped the broker (SIGTERM), whatever
# the broker said, so a deleted broker is never taken for a finished one;
# otherwise the broker's own status, which on rank 0 is the command's.
set -eu

# This script is the container's PID 1, and PID 1 ignores any signal it has
# no handler for: trap before anything else, so a stop that comes while the
# broker is still being prepared ends the pod at once.
broker=
stopped=
# shellcheck disable=SC2317 # called by the trap below
stop() {
	stopped=1
	if [ -z "$broker" ]; then
		exit 143
	fi
	kill -TERM "$broker" 2>/dev/null || :
}
trap stop TERM INT

log() {
	printf 'elasticflux: %s\n' "$*" >&2
}

rank=${JOB_COMPLETION_INDEX:-}
case $rank in
'' | *[!0-9]*)
	log "JOB_COMPLETION_INDEX is '$rank', not a number: run this in a pod of an Indexed Job"
	exit 1
	;;
esac

# The pod's FLUX_URI is for people and programs that exec into the pod; the
# broker must not take it for an enclosing instance.
unset FLUX_URI

# Nothing written here is for other users, and the broker refuses a curve
# certificate that group or other can read.
umask 077
mkdir -p /run/elasticflux/broker

# Copy the certificate out of its Secret volume, where the file may belong to
# another user or be group-readable (fsGroup), and make it owner-read-only.
mkdir -p /run/elasticflux
rm -f /run/elasticflux/curve.cert
cp /etc/elasticflux-curve/curve.cert /run/elasticflux/curve.cert
chmod 0400 /run/elasticflux/curve.cert

# R must name exactly the bootstrap hosts, all of them up to maxSize; cores
# and GPUs are those this pod sees.
mkdir -p /run/elasticflux
flux R encode '--hosts=flux-sample-[0-7]' --local >/run/elasticflux/R.partial
mv -f /run/elasticflux/R.partial /run/elasticflux/R

# A broker that leaves on scale-down is drained by the preStop hook, and
# Flux keeps it drained when it comes back. Once this broker runs, undrain
# it, but only if the drain was elasticflux's and is older than this
# broker: a drain set by an administrator stays, and so does one made while
# this broker was already up (its own scale-down, under way). Waiting costs
# a `flux uptime` (no Python) every second, every 8 seconds after the first
# 30, for as long as the broker lives and at most 30 minutes; the drain is
# then read once.
undrain_after_join() {
	FLUX_URI=local:///run/elasticflux/broker/local-$rank
	export FLUX_URI
	waited=0
	until flux uptime 2>/dev/null | grep -q '^ *[0-9:]* run '; do
		if ! kill -0 "$broker" 2>/dev/null || [ "$waited" -ge 1800 ]; then
			log "rank $rank never reached the run state; leaving any drain in place"
			return 0
		fi
		delay=1
		if [ "$waited" -ge 30 ]; then
			delay=8
		fi
		sleep "$delay"
		waited=$((waited + delay))
	done
	if ! drain=$(flux resource drain --no-header --include="$rank" --format='{timestamp} {reason}'); then
		log "could not read the drain of rank $rank"
		return 0
	fi
	if [ -z "$drain" ]; then
		return 0
	fi
	drained_at=${drain%% *}
	drained_at=${drained_at%%.*}
	if [ "$drained_at" -ge "$started" ]; then
		return 0
	fi
	case ${drain#* } in
	*'elasticflux: scale-down'*)
		flux resource undrain "$rank" 'elasticflux: rejoined' ||
			log "could not undrain rank $rank"
		;;
	esac
}

set -- -c /etc/elasticflux/broker.toml
set -- "$@" -Srundir=/run/elasticflux/broker
set -- "$@" -Sbroker.quorum=2
set -- "$@" -Stbon.connect_timeout=5s
set -- "$@" -Slog-stderr-level=6
if [ "$rank" -eq 0 ]; then
	set -- "$@" flux submit -N 4 -n 8 --watch mpirun -x OMP_NUM_THREADS=2 ./lammps -in in.reaxc.hns
fi

# This script stays the container's main process, rather than exec the
# broker, so that it can finish the work above after the broker exits; it
# passes the stop signal from Kubernetes on to the broker, which shuts down
# cleanly (and on rank 0 saves the instance) when it gets SIGTERM.
started=$(date +%s)
flux start "$@" &
broker=$!
if [ "$rank" -ne 0 ]; then
	undrain_after_join &
fi
status=0
wait "$broker" || status=$?
# A trapped signal interrupts wait with a status above 128 while the broker
# is still shutting down: wait again for its own exit status.
while [ "$status" -gt 128 ] && kill -0 "$broker" 2>/dev/null; do
	status=0
	wait "$broker" || status=$?
done
if [ -n "$stopped" ]; then
	log "stopped by Kubernetes (the broker exited $status)"
	exit 143
fi
exit "$status"
