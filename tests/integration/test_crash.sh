#!/bin/bash
# kill -9 of the daemon during a backup and during a restore: after a
# remount the interrupted backup is Failed with no partial file, Completed
# backups are intact, and the appliance's data is all before or all after.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

S=$BK_TMP/state
M=$BK_TMP/mnt
mkdir -p "$M"
"$BACKUPCTL" init "$S" --demo >/dev/null
seq 1 250000 | sed 's/.*/{"domain":"root","type":"keys","name":"bulk-&"}/' > "$BK_TMP/bulk.jsonl"
"$BACKUPCTL" --state "$S" resource import "$BK_TMP/bulk.jsonl" >/dev/null
bk_mount "$S" "$M"

# A Completed backup to keep.
echo '{"description":"keep me"}' > "$M/system/backups/create"
cat "$M/wait" >/dev/null
keep=$(readlink "$M/system/backups/latest")
keepsum=$(sha256sum < "$M/system/backups/$keep/$keep.backup")

# Interrupt a second backup.
echo '{"description":"interrupted"}' > "$M/system/backups/create"
victim=$(jq -r .backupId < "$M/status")
# Kill as soon as the job has its partial file (a 250,000-key backup takes
# far longer than that).
for i in $(seq 1 100); do ls "$S/archives" | grep -q partial && break; sleep 0.02; done
bk_kill9 "$M"
bk_mount "$S" "$M"
assert_eq "$(head -c 6 "$M/system/backups/$victim/status")" "Failed" "interrupted backup shows Failed"
assert_contains "$(cat "$M/system/backups/$victim/status")" "interrupted" "with the reason"
assert_eq "$(ls "$S/archives" | grep -c partial || true)" "0" "its partial file is gone"
assert_eq "$(sha256sum < "$M/system/backups/$keep/$keep.backup")" "$keepsum" "the Completed backup is intact"
assert_eq "$(readlink "$M/system/backups/latest")" "$keep" "latest still points at it"
assert_eq "$(sqlite3 "$S/backupfs.db" 'PRAGMA integrity_check')" "ok" "database integrity ok"

# Interrupt a restore: data is all before or all after.
"$BACKUPCTL" --state "$S" resource add --domain root --type users --name after-backup >/dev/null
before=$(sqlite3 "$S/backupfs.db" 'SELECT count(*) FROM resources')
echo '{}' > "$M/system/backups/$keep/restore"
sleep 0.5
bk_kill9 "$M"
after=$(sqlite3 "$S/backupfs.db" 'SELECT count(*) FROM resources')
has=$(sqlite3 "$S/backupfs.db" "SELECT count(*) FROM resources WHERE name = 'after-backup'")
if [ "$after" = "$before" ] && [ "$has" = 1 ]; then
	pass "restore interrupted: data as before"
elif [ "$has" = 0 ] && [ "$after" = $((before - 1)) ]; then
	pass "restore interrupted: data as after"
else
	fail "restore interrupted left a mix: before=$before after=$after has=$has"
fi
bk_mount "$S" "$M"
assert_eq "$(sqlite3 "$S/backupfs.db" 'PRAGMA integrity_check')" "ok" "database integrity ok after restore crash"
assert_contains "$(cat "$M/status")" '"status"' "status readable after restart"
bk_done
