#!/bin/bash
# Scheduled backups through the real mount, with the test clock
# (BACKUPFS_CLOCK, core/schedule.h): bad requests change nothing; create,
# list, config.json, run-now, runs, rmdir; a due schedule makes a backup;
# retention keeps exactly N of the schedule's own backups and touches no
# manual backup and no other schedule's; a run missed while unmounted is
# caught up once after the remount; a job due during a running restore
# waits for it, or is skipped after the limit with the reason; schedules
# are part of system backups; do_scp validation and the recorded result
# of the transfer; backupctl schedule.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

S=$BK_TMP/state
M=$BK_TMP/mnt
CLOCK=$BK_TMP/clock
export BACKUPFS_CLOCK=$CLOCK
"$BACKUPCTL" init "$S" >/dev/null
echo "2030-01-01T00:00:30Z" > "$CLOCK"
bk_mount "$S" "$M"

clock() { echo "$1" > "$CLOCK"; }
runs() { cat "$M/schedules/$1/runs"; }
# nruns NAME [STATUS]: the number of runs (with that status).
nruns() {
	if [ $# -eq 2 ]; then
		runs "$1" | jq -c "select(.status == \"$2\")" | wc -l
	else
		runs "$1" | wc -l
	fi
}
# until_ok WHAT CMD...: polls CMD (30 s) until it succeeds.
until_ok() {
	local what=$1 i
	shift
	for ((i = 0; i < 600; i++)); do
		if "$@" >/dev/null 2>&1; then
			pass "$what"
			return 0
		fi
		sleep 0.05
	done
	fail "$what (not within 30 s)"
}
settled() {	# NAME N: N runs, none Waiting or In Progress
	[ "$(nruns "$1")" -eq "$2" ] && [ "$(nruns "$1" Waiting)" -eq 0 ] &&
		[ "$(nruns "$1" 'In Progress')" -eq 0 ]
}
waiting() { [ "$(nruns "$1" Waiting)" -eq 1 ]; }
backups() { ls "$M/system/backups" | grep -E '^[0-9a-f]{32}$' | sort; }
last_error() { jq -r '.lastError.message' "$M/status"; }

# --- bad requests: EINVAL with the reason, nothing created ---
bad() {	# JSON REASON
	assert_fails_with EINVAL "bk_put '$M/schedules/create' '$1'"
	assert_contains "$(last_error)" "$2" "reason for $1"
}
bad '{"name": "x", "run_at": "61 * * * *"}' "minute: 61 is out of range 0-59"
bad '{"name": "x", "run_at": "* * * FOO *"}' 'month: unknown name "FOO"'
bad '{"name": "x", "run_at": "? * * * *"}' '"?" is only allowed'
bad '{"name": "x", "run_at": "0 0 30 2 *"}' "never due"
bad '{"name": "x", "run_at": "* * *"}' "expected 5 fields"
bad '{"name": "x", "run_at": "0 * * * *", "colour": 1}' 'unknown field "colour"'
bad '{"name": "x", "run_at": "0 * * * *", "disabled": "yes"}' '"disabled" must be true or false'
bad '{"run_at": "0 * * * *"}' '"name" is required'
bad '{"name": "a/b", "run_at": "0 * * * *"}' 'only letters, digits'
bad '{"name": "x"}' '"run_at"'
bad '{"name": "x", "run_at": "0 * * * *", "start_date": "tomorrow"}' "not an RFC 3339 time"
bad '{"name": "x", "run_at": "0 * * * *", "start_date": "2030-02-01T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"}' "end_date is not after start_date"
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"size": 1}}' 'database_backup_params: unknown field "size"'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"retentionCount": "2"}}' '"retentionCount" must be an integer'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"retentionCount": 0}}' "retentionCount must be 1 or more"
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"scope": "domain"}}' 'needs "domain"'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"scope": "domain", "domain": "nope"}}' 'domain "nope" does not exist'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"backupKey": "0123"}}' "backupKey 0123 is not a backup key"
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"do_scp": true}}' 'do_scp needs "connection"'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"do_scp": true, "connection": "c", "scope": "domain", "domain": "root"}}' "SCP transfers system backups only"
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"connection": "c"}}' '"connection" is only used with "do_scp"'
bad '{"name": "x", "run_at": "0 * * * *", "database_backup_params": {"tiedToHSM": true}}' "tiedToHSM needs an HSM root of trust"
assert_fails_with EINVAL "bk_put '$M/schedules/create' '{\"name\": '"
assert_eq "$(ls "$M/schedules")" "create" "nothing created by bad requests"
assert_eq "$("$BACKUPCTL" --state "$S" schedule list)" "" "backupctl lists none"
assert_status 1 "$BACKUPCTL" --state "$S" schedule add '{"name": "x", "run_at": "0 0 31 4 *"}'

# --- create, list, config.json ---
bk_put "$M/schedules/create" '{"name": "hourly", "run_at": "0 * * * *",
	"description": "every hour",
	"database_backup_params": {"retentionCount": 2}}'
assert_eq "$(ls "$M/schedules" | tr '\n' ' ')" "create hourly " "listed"
cfg=$(cat "$M/schedules/hourly/config.json")
assert_eq "$(jq -r .run_at <<<"$cfg")" "0 * * * *" "config.json run_at"
assert_eq "$(jq -r .next_run_at <<<"$cfg")" "2030-01-01T01:00:00Z" \
	"next run on the test clock"
assert_eq "$(stat -c %s "$M/schedules/hourly/config.json")" \
	"$(printf '%s\n' "$cfg" | wc -c)" "config.json stat size exact"
assert_fails_with EEXIST "bk_put '$M/schedules/create' '{\"name\": \"hourly\", \"run_at\": \"0 * * * *\"}'"
assert_eq "$(runs hourly)" "" "no runs yet"
assert_fails_with EACCES "echo x > '$M/schedules/hourly/runs'"

# start_date and end_date (RFC 3339, any offset) bound the due times
bk_put "$M/schedules/create" '{"name": "window", "run_at": "0 */6 * * *",
	"start_date": "2030-06-01T01:00:00+02:00",
	"end_date": "2030-06-02T00:00:00Z"}'
assert_eq "$(jq -r .next_run_at "$M/schedules/window/config.json")" \
	"2030-06-01T00:00:00Z" "next run from start_date (offset +02:00)"
bk_put "$M/schedules/create" '{"name": "over", "run_at": "0 * * * *",
	"end_date": "2030-01-01T00:30:00Z"}'
assert_eq "$(jq -r .next_run_at "$M/schedules/over/config.json")" null \
	"no next run after end_date"
rmdir "$M/schedules/window" "$M/schedules/over"

# --- due: a backup is made ---
clock "2030-01-01T01:00:20Z"
until_ok "the 01:00 run settles" settled hourly 1
r1=$(runs hourly | tail -1)
assert_eq "$(jq -r .status <<<"$r1")" Completed "run Completed"
assert_eq "$(jq -r .due <<<"$r1")" "2030-01-01T01:00:00Z" "run's due time"
assert_eq "$(jq -r .started <<<"$r1")" "2030-01-01T01:00:20Z" "run started"
b1=$(jq -r .backupId <<<"$r1")
assert_eq "$(cat "$M/system/backups/$b1/status")" Completed "its backup"
assert_eq "$(jq -r .description "$M/system/backups/$b1/backup.json")" \
	"scheduled backup (hourly)" "default description"
clock "2030-01-01T01:30:00Z"
sleep 0.5
assert_eq "$(nruns hourly)" 1 "nothing due at 01:30"

# --- run-now; another schedule; a manual backup ---
echo 1 > "$M/schedules/hourly/run-now"
until_ok "run-now settles" settled hourly 2
b2=$(runs hourly | tail -1 | jq -r .backupId)
bk_put "$M/schedules/create" '{"name": "yearly", "run_at": "0 0 1 1 *",
	"database_backup_params": {"description": "other", "retentionCount": 1}}'
"$BACKUPCTL" --state "$S" schedule run-now yearly 2>/dev/null
until_ok "backupctl run-now settles" settled yearly 1
by=$(runs yearly | tail -1 | jq -r .backupId)
assert_eq "$(jq -r .description "$M/system/backups/$by/backup.json")" \
	"other" "params description"
echo '{"description": "manual"}' > "$M/system/backups/create"
cat "$M/wait" >/dev/null
bm=$(readlink "$M/system/backups/latest")

# --- retention: exactly 2 of hourly's, nothing else touched ---
clock "2030-01-01T02:00:10Z"
until_ok "the 02:00 run settles" settled hourly 3
b3=$(runs hourly | tail -1 | jq -r .backupId)
clock "2030-01-01T03:00:10Z"
until_ok "the 03:00 run settles" settled hourly 4
b4=$(runs hourly | tail -1 | jq -r .backupId)
assert_eq "$(backups | tr '\n' ' ')" \
	"$(printf '%s\n' "$b3" "$b4" "$by" "$bm" | sort | tr '\n' ' ')" \
	"hourly keeps its newest 2; the manual and yearly backups stay"
for b in "$b1" "$b2"; do
	ok=0; [ ! -e "$M/system/backups/$b" ] && ok=1
	assert_eq "$ok" 1 "old hourly backup $b deleted"
done
assert_contains "$(grep '"backup.delete"' "$M/audit")" '"schedule":"hourly"' \
	"retention's deletions are audited with the schedule"

# --- rmdir; backupctl delete ---
bk_put "$M/schedules/create" '{"name": "gone", "run_at": "*/5 * * * *"}'
rmdir "$M/schedules/gone"
assert_eq "$(ls "$M/schedules" | tr '\n' ' ')" "create hourly yearly " \
	"rmdir deletes"
assert_fails_with ENOENT "cat '$M/schedules/gone/config.json'"
"$BACKUPCTL" --state "$S" schedule add '{"name": "cli", "run_at": "0 4 * * *", "disabled": true}' >/dev/null
assert_eq "$(jq -r .disabled "$M/schedules/cli/config.json")" true \
	"backupctl add is seen by the mount"
assert_eq "$(jq -r .next_run_at "$M/schedules/cli/config.json")" null \
	"disabled: no next run"
assert_eq "$("$BACKUPCTL" --state "$S" schedule list | jq -r .name | tr '\n' ' ')" \
	"cli hourly yearly " "backupctl schedule list"

# --- a run missed while unmounted is caught up once ---
bk_umount "$M"
clock "2030-01-01T07:10:00Z"
bk_mount "$S" "$M"
until_ok "the catch-up run settles" settled hourly 5
rc=$(runs hourly | tail -1)
assert_eq "$(jq -r .due <<<"$rc")" "2030-01-01T07:00:00Z" "one catch-up run, for the last due time"
assert_contains "$(jq -r .reason <<<"$rc")" "catch-up" "catch-up said in the reason"
assert_eq "$(nruns cli)" 0 "a disabled schedule catches nothing up"
assert_eq "$(backups | wc -l)" 4 "retention after the catch-up: still 2 + 2"

# --- a job due during a running restore ---
rmdir "$M/schedules/hourly"
bk_put "$M/schedules/create" '{"name": "eight", "run_at": "0 8 * * *"}'
bk_put "$M/schedules/create" '{"name": "half", "run_at": "30 8 * * *"}'
echo '{"description": "with schedules"}' > "$M/system/backups/create"
cat "$M/wait" >/dev/null
bs=$(readlink "$M/system/backups/latest")
bk_put "$M/schedules/create" '{"name": "late", "run_at": "0 9 * * *"}'
bk_umount "$M"
BACKUPFS_FAULT=restore.apply:1:stall BACKUPFS_FAULT_RELEASE=$BK_TMP/release \
	bk_mount "$S" "$M"
echo '{}' > "$M/system/backups/$bs/restore"
assert_eq "$(jq -r .status "$M/status")" "In Progress" "restore held In Progress"
clock "2030-01-01T08:00:20Z"
until_ok "eight waits" waiting eight
clock "2030-01-01T08:30:20Z"
until_ok "half waits" waiting half
clock "2030-01-01T09:00:30Z"	# eight: 60 min after its due time
until_ok "eight skipped after the limit" settled eight 1
re=$(runs eight)
assert_eq "$(jq -r .status <<<"$re")" Skipped "eight Skipped"
assert_contains "$(jq -r .reason <<<"$re")" "waited 60 minutes for another operation to end" "skip reason"
assert_contains "$(jq -r .reason <<<"$re")" "restore" "skip reason names the restore"
assert_eq "$(nruns half Waiting)" 1 "half still waits"
touch "$BK_TMP/release"
cat "$M/wait" >/dev/null
until_ok "half runs after the restore" settled half 1
assert_eq "$(runs half | jq -r .status)" Completed "half Completed"
assert_eq "$(ls "$M/schedules" | tr '\n' ' ')" "cli create eight half yearly " \
	"schedules restored from the system backup (late was not in it)"
bk_umount "$M"
bk_mount "$S" "$M"

# --- do_scp: the transfer's result is recorded ---
bk_put "$M/schedules/create" '{"name": "offsite", "run_at": "0 0 1 1 *",
	"database_backup_params": {"do_scp": true, "connection": "vault"}}'
assert_eq "$(jq -r .database_backup_params.connection "$M/schedules/offsite/config.json")" \
	vault "connection kept"
echo 1 > "$M/schedules/offsite/run-now"
until_ok "offsite settles" settled offsite 1
ro=$(runs offsite)
assert_eq "$(jq -r .status <<<"$ro")" Completed "offsite backup Completed"
if [ "$(jq -r .transferId <<<"$ro")" = null ]; then
	assert_contains "$(jq -r .reason <<<"$ro")" "SCP transfer not started" \
		"transfer failure recorded in the run"
else
	pass "transfer started: $(jq -r .transferId <<<"$ro")"
fi
# --- a run whose backup cannot start fails with the engine's reason ---
echo '{"name": "spare"}' > "$M/system/backupkeys/create"
kid=$("$BACKUPCTL" --state "$S" backupkey list | jq -r 'select(.name == "spare") | .id')
bk_put "$M/schedules/create" "{\"name\": \"keyed\", \"run_at\": \"0 0 1 1 *\",
	\"database_backup_params\": {\"backupKey\": \"$kid\"}}"
rmdir "$M/system/backupkeys/$kid"
echo 1 > "$M/schedules/keyed/run-now"
until_ok "keyed settles" settled keyed 1
rk=$(runs keyed)
assert_eq "$(jq -r .status <<<"$rk")" Failed "run Failed"
assert_contains "$(jq -r .reason <<<"$rk")" "$kid" "the reason names the missing key"
assert_contains "$(jq -r .error "$M/schedules/keyed/config.json")" null \
	"config.json has no error (the request is valid)"

# --- a domain schedule; backupctl runs and delete ---
"$BACKUPCTL" --state "$S" domain create sales >/dev/null
bk_put "$M/schedules/create" '{"name": "sales", "run_at": "0 0 1 1 *",
	"database_backup_params": {"scope": "domain", "domain": "sales",
	"filters": [{"resourceType": "Keys"}], "retentionCount": 1}}'
for i in 1 2; do
	echo 1 > "$M/schedules/sales/run-now"
	until_ok "domain run $i settles" settled sales "$i"
done
ds=$(ls "$M/domains/sales/backups" | grep -cE '^[0-9a-f]{32}$')
assert_eq "$ds" 1 "domain retention keeps 1"
rd=$(runs sales | tail -1 | jq -r .backupId)
assert_eq "$(jq -c .filters "$M/domains/sales/backups/$rd/backup.json")" \
	'[{"resourceType":"Keys"}]' "the domain backup has the schedule's filters"
assert_eq "$("$BACKUPCTL" --state "$S" schedule runs sales | wc -l)" 2 \
	"backupctl schedule runs"
assert_ok "$BACKUPCTL" --state "$S" schedule delete sales
assert_status 1 "$BACKUPCTL" --state "$S" schedule delete sales
assert_fails_with ENOENT "ls '$M/schedules/sales'"
assert_eq "$(ls "$M/domains/sales/backups" | grep -cE '^[0-9a-f]{32}$')" 1 \
	"deleting a schedule keeps its backups"
bk_done
