#!/bin/sh
# preStop hook of an elasticflux broker. Rendered by elasticflux: change the
# MiniCluster, not this file.
#
# Before Kubernetes stops this broker (a scale-down or a deletion), drain it
# so the scheduler places no new work on it. It always exits 0: a failing hook
# only delays the pod's end, and the broker must stop anyway.
set -u

log() {
	printf 'elasticflux prestop: %s\n' "$*" >&2
}

rank=${JOB_COMPLETION_INDEX:-}
case $rank in
'' | *[!0-9]*)
	log "JOB_COMPLETION_INDEX is '$rank', not a number: not draining"
	exit 0
	;;
esac
if [ "$rank" -eq 0 ]; then
	# Scale-down removes the highest indexes, never 0: rank 0 stops only
	# with the whole instance.
	exit 0
fi

# The broker's own socket, which Flux names after the rank.
FLUX_URI=local:///run/elasticflux/broker/local-$rank
export FLUX_URI

# --update keeps an administrator's earlier drain and its reason.
if ! flux resource drain --update "$rank" 'elasticflux: scale-down'; then
	log "could not drain rank $rank; stopping without waiting"
	exit 0
fi
exit 0
