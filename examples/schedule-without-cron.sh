#!/usr/bin/env bash
# examples/schedule-without-cron.sh - scheduled system backups without cron.
#
# usage: schedule-without-cron.sh [--once] MOUNT [INTERVAL_SECONDS [KEEP]]
#
# Every INTERVAL_SECONDS (default 86400) it starts a system backup described
# "scheduled <UTC time>", waits for it, then keeps the KEEP (default 7)
# newest Completed backups made by this script and deletes the older ones
# with rmdir.  Backups made otherwise (by hand, by other scripts) are never
# deleted: only those whose backup.json description starts with the prefix
# (SCHEDULE_PREFIX, default "scheduled ") are counted.
#
#   --once   one round, then exit (status 0 if the backup Completed)
#   another backup or restore running (EBUSY): the script says so, waits for
#   that operation (MOUNT/wait) and retries, up to RETRIES times (default 5)
#   RETRY_SECONDS apart (default 60); then gives up on this round.
#
# The daemon schedules backups itself (MOUNT/schedules/, cron times in UTC,
# retention per schedule, optional SCP copy: docs/OPERATIONS.md), e.g.
#   echo '{"name": "daily", "run_at": "0 2 * * *",
#          "database_backup_params": {"scope": "system",
#                                     "retentionCount": 7}}' \
#       > /mnt/backupfs/schedules/create
# This script is for what those cannot do: intervals that are not cron
# times, or driving backups from another machine's clock.
#
# As a service: run it under systemd (Restart=on-failure) or nohup/tmux:
#   nohup schedule-without-cron.sh /mnt/backupfs 86400 7 >> /var/log/bk-schedule.log 2>&1 &
set -euo pipefail

usage() { echo "usage: $(basename "$0") [--once] MOUNT [INTERVAL_SECONDS [KEEP]]" >&2; exit 2; }
say() { echo "$(date -u +%FT%TZ) schedule: $*"; }

once=0
args=()
for a in "$@"; do
	case $a in
	--once) once=1 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) args+=("$a") ;;
	esac
done
if [ ${#args[@]} -lt 1 ] || [ ${#args[@]} -gt 3 ]; then usage; fi
MOUNT=${args[0]%/}
INTERVAL=${args[1]:-86400}
KEEP=${args[2]:-7}
PREFIX=${SCHEDULE_PREFIX:-scheduled }
RETRIES=${RETRIES:-5}
RETRY_SECONDS=${RETRY_SECONDS:-60}
[[ $INTERVAL =~ ^[0-9]+$ && $KEEP =~ ^[0-9]+$ && $KEEP -ge 1 ]] || usage
BACKUPS=$MOUNT/system/backups

# start_backup DESCRIPTION: 0 started, 1 refused, 2 busy.  Prints the reason.
start_backup() {
	local err
	# cat reports the verdict of write(2)/close(2); bash's echo would not.
	if err=$(jq -nc --arg d "$1" '{description: $d}' | cat 2>&1 > "$BACKUPS/create"); then
		return 0
	fi
	# the daemon's reason, in words, is in status's lastError
	echo "$err: $(jq -r '.lastError.message // ""' "$MOUNT/status" 2>/dev/null)"
	[[ $err == *"resource busy"* ]] && return 2
	return 1
}

# One round: back up, wait, rotate.  Returns non-zero if no backup Completed.
round() {
	local desc try=0 rc reason id st
	desc="$PREFIX$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"	# sortable, unique
	while :; do
		rc=0
		reason=$(start_backup "$desc") || rc=$?
		[ "$rc" -eq 0 ] && break
		if [ "$rc" -eq 2 ] && [ "$try" -lt "$RETRIES" ]; then
			try=$((try + 1))
			say "another operation is running ($reason); waiting for it, retry $try/$RETRIES in ${RETRY_SECONDS}s"
			cat "$MOUNT/wait" > /dev/null
			sleep "$RETRY_SECONDS"
			continue
		fi
		say "backup not started: $reason"
		return 1
	done
	# status names the operation just started; check that it is ours.
	id=$(jq -r .backupId "$MOUNT/status")
	if [ "$(jq -r .description "$BACKUPS/$id/backup.json" 2>/dev/null)" != "$desc" ]; then
		say "cannot find the backup just started"
		return 1
	fi
	say "started backup $id ($desc)"
	cat "$MOUNT/wait" > /dev/null
	st=$(head -n 1 "$BACKUPS/$id/status")
	say "backup $id: $st"
	rotate
	[[ $st == Completed* ]]
}

# Keep the KEEP newest Completed backups made by this script; rmdir the rest.
rotate() {
	local dir id old
	for dir in "$BACKUPS"/*/; do
		id=$(basename "$dir")
		[[ $id =~ ^[0-9a-f]{32}$ ]] || continue
		[[ $(head -n 1 "$dir/status" 2>/dev/null) == Completed* ]] || continue
		# "description<TAB>id" of ours; the description holds the time
		jq -r --arg p "$PREFIX" --arg id "$id" \
			'select((.description // "") | startswith($p)) | "\(.description)\t\($id)"' \
			"$dir/backup.json" 2>/dev/null || true
	done | sort -r | tail -n +"$((KEEP + 1))" | cut -f 2 |
		while read -r old; do
			if rmdir "$BACKUPS/$old" 2>/dev/null; then
				say "deleted old backup $old"
			else
				say "could not delete $old (will retry next round): $(jq -r '.lastError.message // ""' "$MOUNT/status")"
			fi
		done
}

[ -f "$MOUNT/appliance.json" ] || { echo "schedule: $MOUNT is not a mounted backupfs" >&2; exit 1; }
if [ "$once" -eq 1 ]; then
	round
	exit
fi
say "every ${INTERVAL}s, keeping $KEEP backups (description prefix '$PREFIX')"
while :; do
	next=$(($(date +%s) + INTERVAL))
	round || say "this round failed; next one in ${INTERVAL}s"
	now=$(date +%s)
	[ "$next" -gt "$now" ] && sleep $((next - now))
done
