#!/bin/bash
# Archives read through the mount by the kernel itself (FUSE passthrough,
# fs/passthrough.c), and the way back to reads through the daemon: the
# bytes read are the archive's in every case; whether the daemon read them
# shows in its own I/O count (/proc/PID/io rchar), which grows by the
# archive's size when it serves the reads and stays flat when the kernel
# does.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

S=$BK_TMP/state
M=$BK_TMP/mnt
OUT=$BK_TMP/out
mkdir -p "$OUT"
"$BACKUPCTL" init "$S" --demo >/dev/null
# 256 fragments of 16 KiB: an archive of about 4 MiB
seq 1 256 | awk 'BEGIN { while (length(s) < 16384) s = s "0123456789abcdef" }
	{ printf "{\"domain\":\"root\",\"type\":\"customer_fragments\",\"name\":\"f%04d\",\"attrs\":{\"fragment\":\"%s\"}}\n", $1, s }' |
	"$BACKUPCTL" --state "$S" resource import - >/dev/null

bk_mount "$S" "$M"
echo '{}' > "$M/system/backups/create"
assert_contains "$(cat "$M/wait")" '"Completed"' "backup completes"
id=$(readlink "$M/system/backups/latest")
ARC=$M/system/backups/$id/$id.backup
FILE=$(ls -S "$S"/archives/*.backup | head -n 1)
SIZE=$(stat -c %s "$FILE")
[ "$SIZE" -gt 3000000 ] || fail "archive of $SIZE bytes: too small for this test"
sum=$(sha256sum < "$FILE")

# daemon_read MNT CMD...: runs CMD; prints how many bytes MNT's daemon read
# (files and /dev/fuse) meanwhile.
daemon_read() {
	local pid=${BK_MOUNT_PID[$1]} before after
	shift
	before=$(awk '/^rchar/ { print $2 }' "/proc/$pid/io")
	"$@"
	after=$(awk '/^rchar/ { print $2 }' "/proc/$pid/io")
	echo $((after - before))
}

cat_to() {
	cat "$ARC" > "$OUT/$1"
}

# read_check MNT WHO WHAT: cat of the archive gives its bytes, and the
# daemon read them (WHO=daemon) or not (WHO=kernel).
read_check() {
	local n
	n=$(daemon_read "$1" cat_to copy)
	assert_eq "$(sha256sum < "$OUT/copy")" "$sum" "$3: the archive's bytes"
	if [ "$2" = kernel ]; then
		[ "$n" -lt $((SIZE / 4)) ] &&
			pass "$3: read by the kernel (daemon read $n bytes)" ||
			fail "$3: the daemon read $n bytes of a $SIZE-byte archive"
	else
		[ "$n" -ge "$SIZE" ] &&
			pass "$3: read through the daemon ($n bytes)" ||
			fail "$3: the daemon read only $n bytes of $SIZE"
	fi
}

# Where passthrough cannot be had (Linux < 6.9; a daemon without
# CAP_SYS_ADMIN; a state directory on overlayfs) reads must still be right.
cat "$ARC" > "$OUT/first"
assert_eq "$(sha256sum < "$OUT/first")" "$sum" "the first read: the archive's bytes"
# Only for those reasons: as root on ext4 a refusal is a failure.
why=$(bk_log "$M" | grep -o 'archives are read through the daemon: .*' | head -n 1 || true)
skip=0
case $why in
*"offers no FUSE passthrough"*) skip=1 ;;
*"needs CAP_SYS_ADMIN"* | *"Operation not permitted") [ "$(id -u)" != 0 ] && skip=1 ;;
*"Too many levels of symbolic links") [ "$(stat -f -c %T "$S")" = overlayfs ] && skip=1 ;;
esac
if [ "$skip" = 1 ]; then
	echo "note: no FUSE passthrough here ($why); checked the reads only"
	bk_done
fi
assert_contains "$(bk_log "$M")" "archives are read by the kernel (FUSE passthrough)" \
	"the daemon says it hands archive reads to the kernel"

# --- reads of every kind, by the kernel ---
read_check "$M" kernel "cat"
read_check "$M" kernel "cat again"
cp "$ARC" "$OUT/cp"
assert_eq "$(sha256sum < "$OUT/cp")" "$sum" "cp"
assert_eq "$(dd if="$ARC" bs=4096 skip=333 count=7 status=none | sha256sum)" \
	"$(dd if="$FILE" bs=4096 skip=333 count=7 status=none | sha256sum)" \
	"dd at an offset"
assert_eq "$(python3 -c 'import hashlib, mmap, sys
with open(sys.argv[1], "rb") as f:
    print(hashlib.sha256(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)).hexdigest(), "  -", sep="")' "$ARC")" \
	"$sum" "mmap"
rsync "$ARC" "$OUT/rsync"
assert_eq "$(sha256sum < "$OUT/rsync")" "$sum" "rsync"

# several opens at once share the archive's backing file
exec 3< "$ARC"
read_check "$M" kernel "a second open while one is held"
cat "$ARC" > "$OUT/p1" & p1=$!
cat "$ARC" > "$OUT/p2" & p2=$!
bk_wait_for "$p1" 60
bk_wait_for "$p2" 60
assert_eq "$(sha256sum < "$OUT/p1")$(sha256sum < "$OUT/p2")" "$sum$sum" "two readers at once"
exec 3<&-
read_check "$M" kernel "an open after all were closed"

# opens and releases racing: 4 readers, 10 opens each, every read whole
reader() {
	local i
	for ((i = 0; i < 10; i++)); do
		[ "$(sha256sum < "$ARC")" = "$sum" ] || echo "reader $1, open $i: other bytes or an error"
	done
}
pids=()
for r in 1 2 3 4; do
	reader "$r" > "$OUT/race$r" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do bk_wait_for "$p" 120; done
assert_eq "$(cat "$OUT"/race?)" "" "4 readers opening the archive 10 times each at once"
read_check "$M" kernel "an open after the race"

# the archive removed while open: the open one still reads, and the next
# backup, whose file takes the removed one's name (its seq), reads as
# itself (not through the old open's backing file)
exec 3< "$ARC"
rmdir "$M/system/backups/$id"
[ ! -e "$ARC" ] && pass "the removed archive is gone" || fail "the removed archive is still listed"
echo '{"description": "next"}' > "$M/system/backups/create"
assert_contains "$(cat "$M/wait")" '"Completed"' "the next backup completes"
id2=$(readlink "$M/system/backups/latest")
[ "$(ls "$S"/archives/*.backup)" = "$FILE" ] &&
	pass "the next backup's file has the removed one's name" ||
	fail "the next backup's file is not $FILE: $(ls "$S"/archives)"
assert_eq "$(sha256sum < "$M/system/backups/$id2/$id2.backup")" \
	"$(sha256sum < "$FILE")" "the next backup reads as itself while the removed one is open"
assert_eq "$(sha256sum <&3)" "$sum" "the open removed archive still reads as itself"
exec 3<&-
rmdir "$M/system/backups/$id2"

# an archive replaced under its own name (removed by a schedule's
# retention, not through the mount, then uploaded again) while an open of
# the old one lasts: the kernel keeps one backing file per name, so the
# new one cannot be opened until the old open is closed
bk_put "$M/schedules/create" '{"name": "keep1", "run_at": "0 0 1 1 *",
	"database_backup_params": {"retentionCount": 1}}'
run_keep1() {	# N: run-now, until keep1 has N Completed runs
	local i
	echo 1 > "$M/schedules/keep1/run-now"
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '"Completed"' "$M/schedules/keep1/runs" || true)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "keep1's run $1 did not complete: $(cat "$M/schedules/keep1/runs")"
}
run_keep1 1
k1=$(tail -n 1 "$M/schedules/keep1/runs" | jq -r .backupId)
K1=$M/system/backups/$k1/$k1.backup
cp "$K1" "$OUT/k1.backup"
exec 3< "$K1"
run_keep1 2
[ ! -e "$M/system/backups/$k1" ] && pass "retention removed the first run's backup" ||
	fail "retention kept $k1"
cp "$OUT/k1.backup" "$M/system/backups/upload/"
assert_eq "$(cat "$M/system/backups/$k1/status")" "Completed" "the removed backup uploads again"
assert_fails_with EBUSY cat "$K1"
assert_contains "$(bk_log "$M")" "the archive was replaced while an open of the one it replaced lasts" \
	"the refusal says why"
assert_eq "$(sha256sum <&3)" "$(sha256sum < "$OUT/k1.backup")" "the old open still reads"
exec 3<&-
assert_eq "$(sha256sum < "$K1")" "$(sha256sum < "$OUT/k1.backup")" \
	"once the old open is closed, the new one opens"
rmdir "$M/schedules/keep1"

# an upload through the same mount: its writes still reach the daemon
cp "$OUT/copy" "$M/system/backups/upload/"
assert_eq "$(cat "$M/system/backups/$id/status")" "Completed" "the archive uploads again"
read_check "$M" kernel "the uploaded archive"
bk_umount "$M"

# --- the kernel refuses one registration (BACKUPFS_FAULT=pt.backing:1):
# that archive is read through the daemon while an open of it lasts ---
BACKUPFS_FAULT=pt.backing:1 bk_mount "$S" "$M"
exec 3< "$ARC"
assert_contains "$(bk_log "$M")" "archives are read through the daemon: the kernel refused passthrough" \
	"a refused registration is logged"
read_check "$M" daemon "an open while a refused one is held"
exec 3<&-
read_check "$M" kernel "an open after the refused one was closed"
bk_umount "$M"

# --- -o no_passthrough: every read through the daemon ---
bk_mount -o no_passthrough "$S" "$M"
read_check "$M" daemon "-o no_passthrough"
[ "$(bk_log "$M" | grep -c 'FUSE passthrough' || true)" = 0 ] &&
	pass "-o no_passthrough: no passthrough in the log" ||
	fail "-o no_passthrough: the log mentions passthrough"
bk_umount "$M"

bk_done
