#!/bin/bash
# The audit trail, MOUNT/audit: every operation and every refusal as a JSON
# line with time, uid, pid, operation, scope, ids and reason; stat's size
# exact also when the file is large, reads at any offset; the trail
# survives a system restore, and a system backup carries it: restored on
# another appliance, that one's trail gains the records it lacked and
# keeps its own.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

A=$BK_TMP/a
B=$BK_TMP/b
PASS='audit trail passphrase'
mkdir -p "$A" "$B"
"$BACKUPCTL" init "$A/state" >/dev/null
"$BACKUPCTL" init "$B/state" >/dev/null
id -u nobody >/dev/null
chmod 755 "$BK_TMP" "$A"	# nobody reaches A's mount point
for d in $(dirname "$BK_TMP"); do chmod o+x "$d"; done
"$BACKUPCTL" --state "$A/state" access grant --user nobody \
	--role backup-admin >/dev/null
bk_mount -o allow_other "$A/state" "$A/mnt"
bk_mount "$B/state" "$B/mnt"
AU=$A/mnt/audit
# rec OPERATION [JQ-FILTER]: the last record of the operation.
rec() {
	jq -c "select(.operation == \"$1\")${2:+ | select($2)}" "$AU" | tail -1
}

# --- operations with their caller ---
bash -c 'echo $$ > "$1/pid"; echo "{\"description\": \"audited\"}" > "$1/mnt/system/backups/create"' \
	_ "$A"
cat "$A/mnt/wait" >/dev/null
bid=$(readlink "$A/mnt/system/backups/latest")
r=$(rec backup.start)
assert_eq "$(jq -r .uid <<<"$r")" 0 "uid of backup.start"
assert_eq "$(jq -r .pid <<<"$r")" "$(cat "$A/pid")" "pid of the writing process"
assert_eq "$(jq -r .scope <<<"$r")" system "scope"
assert_eq "$(jq -r .ids.backupId <<<"$r")" "$bid" "ids: the backup"
assert_match "$(jq -r .time <<<"$r")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "time is RFC 3339"
assert_eq "$(rec backup.create | jq -r .result)" ok "the backup's end is audited"

setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	sh -c 'echo "{}" > "$1/system/backups/create"' _ "$A/mnt"
cat "$A/mnt/wait" >/dev/null
assert_eq "$(rec backup.start | jq -r .uid)" "$(id -u nobody)" "uid of another user"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	sh -c 'echo 1 > "$1/system/backupkeys/create"' _ "$A/mnt" 2>/dev/null || true
r=$(rec refused '.result == "EACCES"')
assert_eq "$(jq -r .uid <<<"$r")" "$(id -u nobody)" "refusal: uid"
assert_eq "$(jq -r .ids.path <<<"$r")" "/system/backupkeys/create" "refusal: path"
assert_contains "$(jq -r .reason <<<"$r")" "not authorized" "refusal: reason"

# a backup-admin reads the trail and may manage schedules
assert_eq "$(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	sh -c 'wc -l < "$1/audit"' _ "$A/mnt")" "$(wc -l < "$AU")" \
	"a backup-admin reads the trail"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	sh -c 'printf "%s" "{\"name\": \"nb\", \"run_at\": \"0 5 * * *\"}" | cat > "$1/schedules/create"' _ "$A/mnt"
r=$(rec schedule.create)
assert_eq "$(jq -r '[.uid, .ids.schedule, .scope] | join(" ")' <<<"$r")" \
	"$(id -u nobody) nb system" "schedule.create by a backup-admin"
# ... but not one that does more than a backup-admin may: a domain's
# backups, or deleting backups (retentionCount); refusals audited
nb_sched() {	# PARAMS REASON
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		sh -c 'printf "%s" "$2" | cat > "$1/schedules/create"' _ "$A/mnt" \
		"{\"name\": \"nb2\", \"run_at\": \"0 5 * * *\", \"database_backup_params\": $1}" \
		2>/dev/null && fail "backup-admin created $1" || pass "backup-admin refused $1"
	r=$(rec refused '.result == "EACCES"')
	assert_contains "$(jq -r .reason <<<"$r")" "$2" "refusal of $1: reason"
	assert_eq "$(jq -r .uid <<<"$r")" "$(id -u nobody)" "refusal of $1: uid"
}
nb_sched '{"scope": "domain", "domain": "root"}' "not authorized to schedule backups of domain root"
nb_sched '{"retentionCount": 1}' "retentionCount needs that right"
assert_eq "$(ls "$A/mnt/schedules" | grep -c '^nb2$' || true)" 0 "nothing created"
bk_put "$A/mnt/schedules/create" '{"name": "rootdom", "run_at": "0 4 * * *",
	"database_backup_params": {"scope": "domain", "domain": "root"}}'
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	sh -c 'echo 1 > "$1/schedules/rootdom/run-now"' _ "$A/mnt" 2>/dev/null &&
	fail "backup-admin ran a domain's schedule" ||
	pass "backup-admin may not run a domain's schedule"
assert_contains "$(rec refused '.result == "EACCES"' | jq -r .reason)" \
	"not authorized to schedule backups of domain root" "run-now refusal: reason"
assert_eq "$(jq -s length "$A/mnt/schedules/rootdom/runs")" 0 "no run queued"
rmdir "$A/mnt/schedules/rootdom"

printf '{"colour": 1}' > "$A/mnt/system/backups/create" 2>/dev/null || true
r=$(rec refused '.result == "EINVAL"')
assert_contains "$(jq -r .reason <<<"$r")" 'unknown field "colour"' "EINVAL refusal's reason"
assert_eq "$(jq -r .scope <<<"$r")" system "refusal's scope"

echo '{}' > "$A/mnt/domains/root/backups/create"
cat "$A/mnt/wait" >/dev/null
r=$(rec backup.start '.scope == "domain"')
assert_eq "$(jq -r .domain <<<"$r")" root "domain of a domain backup"
bk_put "$A/mnt/schedules/create" '{"name": "n", "run_at": "0 3 * * *"}'
assert_eq "$(rec schedule.create | jq -r .ids.schedule)" n "schedule ids"
echo '{"name": "k2"}' > "$A/mnt/system/backupkeys/create"
assert_match "$(rec backupkey.create | jq -r .ids.keyId)" '^[0-9a-f]{32}$' "key ids"

# refusals of backupctl are audited too, with the command and the reason
cli_refused() {	# WORDS REASON ARGS...
	local words=$1 reason=$2 r
	shift 2
	assert_status 1 "$BACKUPCTL" --state "$A/state" "$@"
	r=$(rec refused ".ids.target == \"backupctl $words\"")
	assert_contains "$(jq -r .reason <<<"$r")" "$reason" "backupctl $words refused: audited with the reason"
	assert_eq "$(jq -r .uid <<<"$r")" 0 "backupctl $words refused: the caller's uid"
}
cli_refused "schedule add" "hour: 99 is out of range" schedule add '{"name": "x", "run_at": "0 99 * * *"}'
cli_refused "schedule delete" 'no schedule "nosuch"' schedule delete nosuch
cli_refused "schedule run-now" 'no schedule "nosuch"' schedule run-now nosuch
cli_refused "connection delete" "nosuch" connection delete nosuch
cli_refused "hsm rotate" "need an HSM" hsm rotate

# every line is a record with every field
n=$(wc -l < "$AU")
assert_eq "$(jq -c 'select(has("time") and has("uid") and has("pid") and
	has("operation") and has("scope") and has("domain") and has("ids")
	and has("result") and has("reason") and has("id"))' "$AU" | wc -l)" \
	"$n" "all $n lines are complete records"
assert_fails_with EACCES "echo x >> '$AU'"
assert_eq "$(stat -c %a "$AU")" 444 "read-only"

# --- large: exact size, reads at any offset ---
for ((i = 0; i < 1200; i++)); do
	printf '[' 2>/dev/null > "$A/mnt/system/backups/create" || true
done
cp "$AU" "$BK_TMP/full"
size=$(stat -c %s "$AU")
assert_eq "$size" "$(stat -c %s "$BK_TMP/full")" "stat size = bytes read ($size)"
assert_eq "$((size > 262144))" 1 "the trail is larger than 256 KiB"
assert_eq "$(wc -l < "$BK_TMP/full")" "$(jq -c . "$BK_TMP/full" | wc -l)" \
	"every line parses"
assert_eq "$(dd if="$AU" bs=1000 skip=77 count=9 2>/dev/null | sha256sum)" \
	"$(dd if="$BK_TMP/full" bs=1000 skip=77 count=9 2>/dev/null | sha256sum)" \
	"a read at an offset"
assert_eq "$(tail -c 100 "$AU" | sha256sum)" \
	"$(tail -c 100 "$BK_TMP/full" | sha256sum)" "the end"

# --- a system restore keeps the trail; the backup carries it ---
echo '{"description": "with the trail"}' > "$A/mnt/system/backups/create"
cat "$A/mnt/wait" >/dev/null
bid=$(readlink "$A/mnt/system/backups/latest")
first=$(head -1 "$AU" | jq -r .id)
echo '{"name": "after"}' > "$A/mnt/system/backupkeys/create"
cp "$AU" "$BK_TMP/before"
echo '{}' > "$A/mnt/system/backups/$bid/restore"
assert_contains "$(cat "$A/mnt/wait")" Completed "restore completes"
cp "$AU" "$BK_TMP/after"
assert_eq "$(head -c "$(stat -c %s "$BK_TMP/before")" "$BK_TMP/after" | sha256sum)" \
	"$(sha256sum < "$BK_TMP/before")" \
	"the trail before the restore is intact after it (also what came after the backup)"
assert_eq "$(jq -r .ids.backupId "$BK_TMP/after" | grep -c "^$bid\$")" 4 \
	"backup.start, backup.create, restore.start and backup.restore"
assert_eq "$(jq -r .id "$BK_TMP/after" | sort | uniq -d | wc -l)" 0 \
	"no record twice"

kid=$(readlink "$A/mnt/system/backupkeys/default")
printf '%s\n' "$PASS" > "$A/mnt/passphrase"
cp "$A/mnt/system/backupkeys/$kid/$kid.backupkey" "$BK_TMP/"
cp "$A/mnt/system/backups/$bid/$bid.backup" "$BK_TMP/"
printf '%s\n' "$PASS" > "$B/mnt/passphrase"
cp "$BK_TMP/$kid.backupkey" "$B/mnt/system/backupkeys/upload/"
own=$(jq -r .id "$B/mnt/audit" | sort)
cp "$BK_TMP/$bid.backup" "$B/mnt/system/backups/restore/"
assert_contains "$(cat "$B/mnt/wait")" Completed "restore on B completes"
bids=$(jq -r .id "$B/mnt/audit" | sort)
assert_eq "$(comm -23 <(echo "$own") <(echo "$bids") | wc -l)" 0 \
	"B keeps its own records"
assert_contains "$bids" "$first" "B gains A's first record (from the backup)"
# A's records up to the backup's start are all in B
jq -r --arg b "$bid" 'if .operation == "backup.start" and .ids.backupId == $b
	then "STOP" else .id end' "$BK_TMP/before" | sed '/^STOP$/,$d' | sort \
	> "$BK_TMP/carried"
assert_eq "$(comm -23 "$BK_TMP/carried" <(echo "$bids") | wc -l)" 0 \
	"B gains every record A had when it made the backup ($(wc -l < "$BK_TMP/carried"))"
assert_eq "$(jq -r .id "$B/mnt/audit" | sort | uniq -d | wc -l)" 0 \
	"no record twice in B"
bk_done
