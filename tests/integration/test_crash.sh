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
# ---- crashes at chosen points (BACKUPFS_FAULT=point:1:kill, core/fault.h)
# during a domain backup and a domain restore; test_faults.sh does the
# system scope and uploads.
fdump() {	# the resources of domain $1 (all domains: no argument)
	sqlite3 "$S/backupfs.db" "SELECT id, domain, type, name, version, attrs,
		hex(material) FROM resources WHERE '${1:-}' IN ('', domain)
		ORDER BY id" | sha256sum
}
orphans() {
	{ ls "$S/archives"
	  sqlite3 "$S/backupfs.db" "SELECT seq || '.backup' FROM backups
		WHERE status = 'Completed'"; } | sort | uniq -u | tr '\n' ' '
	ls "$S/staging" | tr '\n' ' '
}
crash_mount() {	# POINT: mount with a crash at POINT
	BACKUPFS_FAULT=$1:1:kill bk_mount "$S" "$M"
}
crashed() {	# WHAT: the daemon killed itself; remount, check the state
	local pid=${BK_MOUNT_PID[$M]} i
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then fail "$1: fault point not reached"; fi
	bk_kill9 "$M"
	bk_mount "$S" "$M"
	assert_eq "$(orphans)" "" "$1: no orphan file, nothing staged"
	assert_eq "$(sqlite3 "$S/backupfs.db" "SELECT count(*) FROM backups WHERE status NOT IN ('Completed','Failed')")" \
		"0" "$1: no partial backup listed"
	assert_eq "$(sqlite3 "$S/backupfs.db" 'PRAGMA integrity_check')" "ok" "$1: integrity ok"
}
DF=$M/domains/finance
printf 'crash test passphrase\n' > "$M/passphrase"
dk=$(readlink "$M/domains/root/backupkeys/default")
cp "$M/domains/root/backupkeys/$dk/$dk.backupkey" "$DF/backupkeys/upload/"
dreq="{\"backupKey\":\"$dk\"}"
echo "$dreq" > "$DF/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
dkeep=$(readlink "$DF/backups/latest")
bk_umount "$M"
for point in backup.rename backup.commit; do
	crash_mount $point
	echo "$dreq" > "$DF/backups/create"
	crashed "domain $point"
	assert_eq "$(readlink "$DF/backups/latest")" "$dkeep" "domain $point: latest is the Completed one"
	bk_umount "$M"
done
"$BACKUPCTL" --state "$S" resource delete --domain finance --type users --name bob >/dev/null
before=$(fdump)
others=$(fdump root)$(fdump hr)
crash_mount restore.apply
echo '{}' > "$DF/backups/$dkeep/restore"
crashed "domain restore.apply"
assert_eq "$(fdump)" "$before" "domain restore killed before applying: data as before"
bk_umount "$M"
crash_mount restore.commit
echo '{}' > "$DF/backups/$dkeep/restore"
crashed "domain restore.commit"
assert_eq "$(sqlite3 "$S/backupfs.db" "SELECT count(*) FROM resources WHERE domain = 'finance' AND name = 'bob'")" \
	"1" "domain restore killed after commit: data as after"
assert_eq "$(fdump root)$(fdump hr)" "$others" "other domains untouched"
assert_ok "$BACKUPCTL" --state "$S" verify "$S/archives/$(sqlite3 "$S/backupfs.db" \
	"SELECT seq FROM backups WHERE id = '$dkeep'").backup"
bk_umount "$M"

# ---- the backup's temporary file: keys made in another order than
# their names' are put in order through an unnamed file in the state
# directory (core/snapshot_order.c), here 60,000 keys made in a shuffled
# order.  No room for it fails the backup with the reason and leaves
# nothing; a crash in the middle leaves the state as crashed checks it
# (the file never had a name: nothing to see of it).
S=$BK_TMP/state2
"$BACKUPCTL" init "$S" >/dev/null
seq 1 60000 | shuf --random-source=<(yes) |
	sed 's/.*/{"domain":"root","type":"keys","name":"k-&"}/' |
	"$BACKUPCTL" --state "$S" resource import - >/dev/null
before=$(fdump)
BACKUPFS_FAULT=snapshot.order.write:2:ENOSPC bk_mount "$S" "$M"
echo '{"description":"no room to sort"}' > "$M/system/backups/create"
id=$(jq -r .backupId < "$M/status")
assert_status 1 "$BACKUPCTL" wait "$M"
assert_match "$(cat "$M/system/backups/$id/status")" \
	"^Failed: .*not enough space in .* for the backup's temporary file" \
	"temporary file: no space fails the backup with the reason"
assert_eq "$(orphans)" "" "temporary file: no orphan file, nothing staged"
assert_eq "$(fdump)" "$before" "temporary file: data unchanged"
bk_umount "$M"
crash_mount snapshot.order.write
echo '{}' > "$M/system/backups/create"
crashed "killed while writing the temporary file"
echo '{"description":"room again"}' > "$M/system/backups/create"
assert_ok "$BACKUPCTL" wait "$M"
again=$(readlink "$M/system/backups/latest")
assert_ok "$BACKUPCTL" --state "$S" verify "$S/archives/$(sqlite3 "$S/backupfs.db" \
	"SELECT seq FROM backups WHERE id = '$again'").backup"
bk_done
