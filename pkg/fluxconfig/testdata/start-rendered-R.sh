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
set -eu

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

# A broker that leaves on scale-down is drained by the preStop hook, and
# Flux keeps it drained when it comes back. Once this broker can reach the
# instance, undrain it, but only if the drain was elasticflux's: a drain set
# by an administrator stays.
undrain_when_joined() {
	FLUX_URI=local:///run/elasticflux/broker/local
	export FLUX_URI
	tries=0
	while [ "$tries" -lt 600 ]; do
		if reason=$(flux resource drain --no-header --include="$rank" --format='{reason}' 2>/dev/null); then
			case $reason in
			*'elasticflux: scale-down'*)
				flux resource undrain "$rank" 'elasticflux: rejoined' ||
					log "could not undrain rank $rank"
				;;
			esac
			return 0
		fi
		sleep 1
		tries=$((tries + 1))
	done
	log "gave up checking whether rank $rank is drained"
}

set -- -c /etc/elasticflux/broker.toml
set -- "$@" -Srundir=/run/elasticflux/broker
set -- "$@" -Sbroker.quorum=2
set -- "$@" -Stbon.connect_timeout=5s
set -- "$@" -Slog-stderr-level=6
if [ "$rank" -eq 0 ]; then
	set -- "$@" flux submit -N 4 --watch hostname
else
	undrain_when_joined &
fi

# This script stays the container's main process, rather than exec the
# broker, so that it can finish the work above after the broker exits; it
# passes the stop signal from Kubernetes on to the broker, which shuts down
# cleanly (and on rank 0 saves the instance) when it gets SIGTERM.
broker=
trap 'if [ -n "$broker" ]; then kill -TERM "$broker" 2>/dev/null || :; fi' TERM INT
flux start "$@" &
broker=$!
status=0
wait "$broker" || status=$?
# A trapped signal interrupts wait with a status above 128 while the broker
# is still shutting down: wait again for its own exit status.
while [ "$status" -gt 128 ] && kill -0 "$broker" 2>/dev/null; do
	status=0
	wait "$broker" || status=$?
done
exit "$status"
