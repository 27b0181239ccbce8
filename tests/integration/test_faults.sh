#!/bin/bash
# Disk full and injected faults (BACKUPFS_FAULT, core/fault.h) during a
# backup, an upload and a restore: each ends Failed (or the upload's close
# fails) with a reason, leaves no partial file, no orphan and nothing
# staged, and changes no data; earlier backups still verify.  Then a crash
# (BACKUPFS_FAULT=point:1:kill) at each commit point: after a remount no
# partial backup is listed, no orphan file is left, the database is intact
# and the data is all before or all after the operation.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

TFS=$BK_TMP/tfs
bk__faults_cleanup() {
	local rc=$?
	if mountpoint -q "$TFS" 2>/dev/null; then
		umount -l "$TFS" 2>/dev/null || true
	fi
	(exit "$rc")
	bk__cleanup	# reads the test's exit status from $?
}
trap bk__faults_cleanup EXIT

# A dump of the appliance's data (the resources table).
dump() {
	sqlite3 "$1/backupfs.db" "SELECT id, domain, type, name, version, attrs,
		hex(material), fingerprint FROM resources ORDER BY id" | sha256sum
}
# Files of archives/ that are not a Completed backup's, and staged files.
orphans() {
	{ ls "$1/archives"
	  sqlite3 "$1/backupfs.db" "SELECT seq || '.backup' FROM backups
		WHERE status = 'Completed'"; } | sort | uniq -u | tr '\n' ' '
	ls "$1/staging" | tr '\n' ' '
}
integrity() {
	assert_eq "$(sqlite3 "$1/backupfs.db" 'PRAGMA integrity_check')" "ok" \
		"$2: integrity_check ok"
}
no_partial_listed() {	# STATE WHAT
	assert_eq "$(sqlite3 "$1/backupfs.db" "SELECT count(*) FROM backups
		WHERE status NOT IN ('Completed', 'Failed')")" "0" \
		"$2: no backup In Progress or Uploading"
}
avail() { df -k --output=avail "$1" | tail -1 | tr -d ' '; }
# wait_dead MNT: waits (10 s) for MNT's daemon to kill itself, then reaps it.
wait_dead() {
	local pid=${BK_MOUNT_PID[$1]} i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "daemon on $1 still alive: fault point not reached"
	else
		pass "daemon died at the fault point"
	fi
	bk_kill9 "$1"
}

S=$BK_TMP/state
M=$BK_TMP/mnt
"$BACKUPCTL" init "$S" --demo >/dev/null
seq 1 20000 | sed 's/.*/{"domain":"root","type":"keys","name":"bulk-&"}/' > "$BK_TMP/bulk.jsonl"
"$BACKUPCTL" --state "$S" resource import "$BK_TMP/bulk.jsonl" >/dev/null

# A Completed backup to keep, and the archive of a second one, deleted
# here, to upload.
bk_mount "$S" "$M"
echo '{"description":"keep"}' > "$M/system/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
keep=$(readlink "$M/system/backups/latest")
cp "$M/system/backups/$keep/$keep.backup" "$BK_TMP/keep.backup"
echo '{"description":"to upload"}' > "$M/system/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
up=$(readlink "$M/system/backups/latest")
cp "$M/system/backups/$up/$up.backup" "$BK_TMP/up.backup"
rmdir "$M/system/backups/$up"
# The data after restoring keep (restore is idempotent), then before.
echo '{}' > "$M/system/backups/$keep/restore"
"$BACKUPCTL" wait "$M" >/dev/null
after_restore=$(dump "$S")
"$BACKUPCTL" --state "$S" resource add --domain root --type users --name after-keep >/dev/null
before=$(dump "$S")
bk_umount "$M"

check_state() {	# WHAT
	no_partial_listed "$S" "$1"
	assert_eq "$(orphans "$S")" "" "$1: no orphan in archives/, nothing staged"
	integrity "$S" "$1"
	assert_ok "$BACKUPCTL" --state "$S" verify "$S/archives/$(sqlite3 "$S/backupfs.db" \
		"SELECT seq FROM backups WHERE id = '$keep'").backup"
}

# ---- (b) injected I/O errors ----
for point in archive.write archive.header backup.fsync backup.rename \
	     backup.commit; do
	for what in EIO ENOSPC; do
		BACKUPFS_FAULT=$point:1:$what bk_mount "$S" "$M"
		echo '{"description":"faulty"}' > "$M/system/backups/create"
		id=$(jq -r .backupId < "$M/status")
		assert_status 1 "$BACKUPCTL" wait "$M"
		st=$(cat "$M/system/backups/$id/status")
		assert_match "$st" "^Failed: .*($(bk_strerror $what))" "$point $what: Failed with the reason"
		assert_eq "$(dump "$S")" "$before" "$point $what: data unchanged"
		bk_umount "$M"
		check_state "$point $what"
	done
done
# The archive writer's 3rd chunk: a failure mid-stream.
BACKUPFS_FAULT=archive.write:3:ENOSPC bk_mount "$S" "$M"
echo '{}' > "$M/system/backups/create"
id=$(jq -r .backupId < "$M/status")
assert_status 1 "$BACKUPCTL" wait "$M"
assert_contains "$(cat "$M/system/backups/$id/status")" "space" "mid-stream ENOSPC: reason mentions space"
bk_umount "$M"
check_state "archive.write:3"

for point in upload.rename upload.commit; do
	BACKUPFS_FAULT=$point bk_mount "$S" "$M"
	assert_fails_with EIO cp "$BK_TMP/up.backup" "$M/system/backups/upload/"
	assert_eq "$(ls "$M/system/backups/upload" | wc -l)" "0" "$point: nothing left in upload/"
	assert_eq "$(ls "$S/staging" | wc -l)" "0" "$point: nothing staged"
	ok=0; [ -e "$M/system/backups/$up" ] || ok=1
	assert_eq "$ok" 1 "$point: the upload is not listed"
	assert_contains "$(cat "$M/status")" "Failed" "$point: status Failed"
	bk_umount "$M"
	check_state "$point"
done

BACKUPFS_FAULT=restore.apply bk_mount "$S" "$M"
echo '{}' > "$M/system/backups/$keep/restore"
assert_status 1 "$BACKUPCTL" wait "$M"
assert_contains "$(cat "$M/status")" "apply" "restore.apply: Failed with the reason"
assert_eq "$(dump "$S")" "$before" "restore.apply: data unchanged"
bk_umount "$M"
check_state "restore.apply"

# ---- (c) crashes at the commit points ----
for point in backup.rename backup.commit; do
	BACKUPFS_FAULT=$point:1:kill bk_mount "$S" "$M"
	echo '{}' > "$M/system/backups/create"
	wait_dead "$M"
	# the newest backup (status may not be read: the daemon may be
	# dead already)
	id=$(sqlite3 "$S/backupfs.db" "SELECT id FROM backups ORDER BY seq DESC LIMIT 1")
	bk_mount "$S" "$M"
	assert_match "$(cat "$M/system/backups/$id/status")" "^Failed: interrupted" "$point kill: backup Failed, interrupted"
	assert_eq "$(dump "$S")" "$before" "$point kill: data unchanged"
	bk_umount "$M"
	check_state "$point kill"
done
for point in upload.rename upload.commit; do
	BACKUPFS_FAULT=$point:1:kill bk_mount "$S" "$M"
	cp "$BK_TMP/up.backup" "$M/system/backups/upload/" 2>/dev/null || true
	wait_dead "$M"
	bk_mount "$S" "$M"
	ok=0; [ -e "$M/system/backups/$up" ] || ok=1
	assert_eq "$ok" 1 "$point kill: the upload is not listed"
	bk_umount "$M"
	check_state "$point kill"
done
# restore.apply: killed before the transaction; restore.commit: after it.
for point in restore.apply restore.commit; do
	BACKUPFS_FAULT=$point:1:kill bk_mount "$S" "$M"
	echo '{}' > "$M/system/backups/$keep/restore"
	wait_dead "$M"
	bk_mount "$S" "$M"
	got=$(dump "$S")
	if [ "$point" = restore.apply ]; then
		assert_eq "$got" "$before" "$point kill: data as before"
	else
		assert_eq "$got" "$after_restore" "$point kill: data as after"
	fi
	assert_contains "$(cat "$M/status")" "interrupted" "$point kill: operation shown interrupted"
	bk_umount "$M"
	check_state "$point kill"
done

# The upload still works without faults.
bk_mount "$S" "$M"
assert_ok cp "$BK_TMP/up.backup" "$M/system/backups/upload/"
assert_eq "$(head -c 9 "$M/system/backups/$up/status")" "Completed" "upload works after the faults"
bk_umount "$M"
check_state "final upload"

# ---- (d) checkpoints: the daemon's thread, not the operation ----
# A restore commits 20,000 keys' pages to the write-ahead log.  With the
# checkpoint thread held (checkpoint.run stalls), the restore completes
# all the same and the database file alone (without its log) is still as
# before it: the commit left the copy to the thread.  A kill -9 then loses
# nothing; once the thread runs, the file alone catches up.
file_alone() {	# STATE: users "after-keep" in the database file alone
	rm -f "$BK_TMP/alone.db"*
	cp "$1/backupfs.db" "$BK_TMP/alone.db"
	sqlite3 "$BK_TMP/alone.db" "SELECT count(*) FROM resources
		WHERE type = 'users' AND name = 'after-keep'" 2>/dev/null ||
		echo "unreadable"
}
export BACKUPFS_FAULT_RELEASE=$BK_TMP/release
for round in kill catch-up; do
	rm -f "$BACKUPFS_FAULT_RELEASE"
	"$BACKUPCTL" --state "$S" resource add --domain root --type users \
		--name after-keep >/dev/null
	assert_eq "$(file_alone "$S")" 1 "$round: the user is in the database file"
	BACKUPFS_FAULT=checkpoint.run:stall bk_mount "$S" "$M"
	echo '{}' > "$M/system/backups/$keep/restore"
	assert_ok "$BACKUPCTL" wait "$M"
	assert_eq "$(dump "$S")" "$after_restore" "$round: checkpoint held, the restore is done"
	assert_eq "$(file_alone "$S")" 1 "$round: checkpoint held, the database file alone is as before"
	if [ "$round" = kill ]; then
		bk_kill9 "$M"
		bk_mount "$S" "$M"
		assert_eq "$(dump "$S")" "$after_restore" "kill -9 before the checkpoint: the restore is kept"
	else
		touch "$BACKUPFS_FAULT_RELEASE"
		for ((i = 0; i < 100; i++)); do
			[ "$(file_alone "$S")" = 0 ] && break
			sleep 0.1
		done
		assert_eq "$(file_alone "$S")" 0 "released: the checkpoint thread brings the database file up to date"
	fi
	bk_umount "$M"
	check_state "checkpoint $round"
done
unset BACKUPFS_FAULT_RELEASE

# ---- (a) disk full, for real: the state directory on a 16 MiB tmpfs ----
mkdir -p "$TFS"
if ! mount -t tmpfs -o size=16m tmpfs "$TFS" 2>/dev/null; then
	echo "# cannot mount a tmpfs (not root?): disk-full tests skipped"
	bk_done
fi
T=$TFS/state
TM=$BK_TMP/tmnt
"$BACKUPCTL" init "$T" --demo >/dev/null
seq 1 6000 | sed 's/.*/{"domain":"root","type":"keys","name":"small-&"}/' |
	"$BACKUPCTL" --state "$T" resource import - >/dev/null
bk_mount "$T" "$TM"
echo '{"description":"fits"}' > "$TM/system/backups/create"
assert_ok "$BACKUPCTL" wait "$TM"
small=$(readlink "$TM/system/backups/latest")
small_seq=$(sqlite3 "$T/backupfs.db" "SELECT seq FROM backups WHERE id = '$small'")
tbefore=$(dump "$T")
# fill: leaves about ROOM KiB free, far less than one backup, room for
# the database's few pages (a failed backup still records its row, its
# operation and its audit record).  SLACK: what those may take.
ROOM=768 SLACK=384
arch_k=$(( $(stat -c %s "$T/archives/$small_seq.backup") / 1024 ))
if [ "$arch_k" -gt $((2 * ROOM)) ]; then
	pass "disk full: a backup ($arch_k KiB) is more than twice the room left"
else
	fail "disk full: a backup ($arch_k KiB) would fit in the room left"
fi
n=0
fill() {
	local free_k
	free_k=$(avail "$TFS")
	n=$((n + 1))
	[ "$free_k" -gt $((2 * ROOM)) ] && dd if=/dev/zero of="$TFS/filler$n" \
		bs=1k count=$((free_k - ROOM)) status=none 2>/dev/null || true
	free0=$(avail "$TFS")
}
fill
echo '{"description":"does not fit"}' > "$TM/system/backups/create"
id=$(jq -r .backupId < "$TM/status")
assert_status 1 "$BACKUPCTL" wait "$TM"
assert_match "$(cat "$TM/system/backups/$id/status")" "^Failed: .*space" "disk full: backup Failed, reason mentions space"
assert_eq "$(ls "$T/archives" | grep -c partial || true)" "0" "disk full: partial file gone"
free1=$(avail "$TFS")
if [ "$free1" -ge $((free0 - SLACK)) ]; then
	pass "disk full: space released ($free0 KiB free before, $free1 after)"
else
	fail "disk full: space not released ($free0 KiB free before, $free1 after)"
fi
assert_ok "$BACKUPCTL" --state "$T" verify "$T/archives/$small_seq.backup"
assert_eq "$(dump "$T")" "$tbefore" "disk full: data unchanged"
integrity "$T" "disk full"
# No space at all: the request itself fails with ENOSPC, and leaves no row.
rows=$(sqlite3 "$T/backupfs.db" 'SELECT count(*) FROM backups')
dd if=/dev/zero of="$TFS/filler-all" bs=64k status=none 2>/dev/null || true
assert_fails_with ENOSPC "echo '{}' > '$TM/system/backups/create'"
rm -f "$TFS/filler-all"
assert_eq "$(sqlite3 "$T/backupfs.db" 'SELECT count(*) FROM backups')" "$rows" "disk full: no row left"
# An upload that does not fit.
cp "$T/archives/$small_seq.backup" "$BK_TMP/small.backup"
rmdir "$TM/system/backups/$small"
fill
rc=0; cp "$BK_TMP/small.backup" "$TM/system/backups/upload/" 2>"$BK_TMP/cp.err" || rc=$?
assert_eq "$rc" 1 "disk full: the upload fails"
assert_match "$(cat "$BK_TMP/cp.err")" "No space left|Invalid argument" "disk full: with ENOSPC or EINVAL"
assert_eq "$(ls "$TM/system/backups/upload" | wc -l)" "0" "disk full: nothing left in upload/"
assert_eq "$(ls "$T/staging" | wc -l)" "0" "disk full: nothing staged"
free2=$(avail "$TFS")
if [ "$free2" -ge $((free0 - SLACK)) ]; then
	pass "disk full: upload space released ($free2 KiB free)"
else
	fail "disk full: upload space not released ($free0 KiB free before, $free2 after)"
fi
# Room again: everything works.
rm -f "$TFS"/filler*
assert_ok cp "$BK_TMP/small.backup" "$TM/system/backups/upload/"
assert_eq "$(head -c 9 "$TM/system/backups/$small/status")" "Completed" "disk full over: upload Completed"
bk_umount "$TM"
integrity "$T" "disk full, after"
assert_eq "$(orphans "$T")" "" "disk full: no orphan, nothing staged"
umount "$TFS" && pass "tmpfs unmounted"
bk_done
