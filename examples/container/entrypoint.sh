#!/bin/sh
# entrypoint.sh - creates the state directory on first start, then runs
# backupfs in the foreground (its log on stderr: `docker logs`).
# Arguments are extra backupfs options (the image's CMD: -o allow_other).
# BACKUPFS_INIT_ARGS: arguments of `backupctl init` (e.g. --demo).
set -eu
STATE=${BACKUPFS_STATE:-/var/lib/backupfs}
MNT=${BACKUPFS_MOUNT:-/mnt/backupfs}
if [ ! -e "$STATE/backupfs.db" ]; then
	# shellcheck disable=SC2086
	backupctl init "$STATE" ${BACKUPFS_INIT_ARGS:-}
fi
mkdir -p "$MNT"
# A mount left by a killed container in a shared directory: detach it.
fusermount3 -uz "$MNT" 2>/dev/null || true
exec backupfs -f "$@" "$STATE" "$MNT"
