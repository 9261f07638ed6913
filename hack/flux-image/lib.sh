#!/usr/bin/env bash
# Functions shared by hack/flux-image.sh and hack/flux-image/check.sh.

# mounted_under DIR: succeeds when something is mounted at DIR or below it.
mounted_under() {
	local dir
	dir="$(realpath -m "$1")"
	awk -v d="${dir}" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# remove_tree DIR: rm -rf, but never through a mount. A /dev or /proc left
# bound into a root filesystem would otherwise take the host's with it.
remove_tree() {
	if mounted_under "$1"; then
		printf 'refusing to remove %s: something is still mounted under it\n' "$1" >&2
		return 1
	fi
	rm -rf --one-file-system "$1"
}
