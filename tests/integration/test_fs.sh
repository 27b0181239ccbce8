#!/bin/bash
# test_fs.sh - the mounted tree, node by node (docs/FS.md), on real mounts,
# driven with echo, cat, cp, rsync, tar, rclone, mv, chmod, touch.
#   bash fs/tests/test_fs.sh build/backupfs build/backupctl
# (Written for tests/integration/; it sources lib.sh from there.)
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=$HERE/lib.sh
[ -f "$LIB" ] || LIB=$HERE/../../tests/integration/lib.sh
. "$LIB"
bk_setup "$BACKUPFS" "$BACKUPCTL"

ok_cmd() {
	local what=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$what"; else fail "$what: $* exited $rc: $out"; fi
}

A=$BK_TMP/a
B=$BK_TMP/b
M=$A/mnt
N=$B/mnt
PASS='a fine long passphrase'
mkdir -p "$A" "$B" "$BK_TMP/out"
"$BACKUPCTL" init "$A/state" --demo >/dev/null
"$BACKUPCTL" init "$B/state" >/dev/null
"$BACKUPCTL" --state "$A/state" domain create sales >/dev/null
for n in 'a/b' '.hidden' '50%' 'tab	x' 'plain'; do
	"$BACKUPCTL" --state "$A/state" resource add --domain sales \
		--type users --name "$n" >/dev/null
done
bk_mount "$A/state" "$M"
bk_mount "$B/state" "$N"

# --- the tree ---
assert_eq "$(ls "$M" | tr '\n' ' ')" "README appliance.json audit connections domains hsm passphrase schedules scp status system wait " "root lists its nodes"
assert_eq "$(ls "$M/system" | tr '\n' ' ')" "backupkeys backups " "system/ lists backups and backupkeys"
assert_eq "$(ls "$M/domains/sales" | tr '\n' ' ')" "backupkeys backups resources " "a domain also lists resources"
assert_eq "$(ls "$M/domains/sales/resources" | wc -l)" "11" "11 resource types"
assert_eq "$(ls "$M/system/backups" | tr '\n' ' ')" "create restore upload " "no latest before a Completed backup"
assert_eq "$(ls -a "$M/system" | head -2 | tr '\n' ' ')" ". .. " "dot entries are listed"
assert_eq "$(stat -c %i "$M")" "1" "root inode is 1"
assert_contains "$(cat "$M/README")" "backups/create" "README explains the tree"
assert_eq "$(stat -c %a "$M/passphrase")" "222" "passphrase is write-only"
assert_eq "$(stat -c %a "$M/system/backups/create")" "644" "control files are 0644"
assert_eq "$(stat -c %a "$M/system/backups/upload")" "755" "upload boxes are 0755"
assert_eq "$(stat -c %a "$M/status")" "444" "status is read-only"
assert_eq "$(jq -r .productVersion "$M/appliance.json")" "2.20.0" "appliance.json"

# --- resource names that cannot be file names ---
assert_eq "$(ls "$M/domains/sales/resources/users" | tr '\n' ' ')" "%2Ehidden.json 50%25.json a%2Fb.json plain.json tab%09x.json " "names are %XX-encoded"
assert_eq "$(jq -r .name "$M/domains/sales/resources/users/a%2Fb.json")" "a/b" "encoded name decodes"
assert_status 1 test -e "$M/domains/sales/resources/users/a%2fb.json"
assert_status 1 test -e "$M/domains/sales/resources/users/%70lain.json"
assert_status 1 test -e "$M/domains/sales/resources/nosuchtype"
assert_status 1 test -e "$M/domains/nosuchdomain"

# --- control files ---
assert_fails_with EINVAL "echo x > '$M/system/backups/create'"
assert_contains "$(jq -r .lastError.message "$M/status")" "JSON object" "status says why (not an object)"
assert_fails_with EINVAL "bk_put '$M/system/backups/create' '{\"description\":'"
assert_contains "$(jq -r .lastError.message "$M/status")" "incomplete" "status says incomplete"
assert_fails_with EINVAL "bk_put '$M/system/backups/create' '{} {}'"
assert_contains "$(jq -r .lastError.message "$M/status")" "after the JSON object" "text after the object"
assert_fails_with EINVAL "bk_put '$M/system/backups/create' '{\"a\" 1}'"
assert_fails_with EFBIG "head -c 1100000 /dev/zero | tr '\\0' ' ' | sed 's/^/{\"description\": \"/' | cat > '$M/system/backups/create'"
assert_contains "$(cat "$M/system/backups/create")" "Write a JSON object" "reading a control file shows usage"
assert_eq "$(stat -c %s "$M/system/backups/create")" "$(cat "$M/system/backups/create" | wc -c)" "usage size exact"
: > "$M/system/backups/create"
assert_eq "$(jq -r .status "$M/status")" "Idle" "truncate and read act on nothing"
assert_fails_with EINVAL "echo '{\"tiedToHSM\": true}' > '$M/domains/sales/backups/create'"
printf '{"description":' > "$BK_TMP/p1"
ok_cmd "a request split over two writes" sh -c "{ cat '$BK_TMP/p1'; sleep 0.2; printf ' \"two writes\"}\n'; } > '$M/system/backups/create'"
st=$(cat "$M/wait")
assert_contains "$st" '"Completed"' "wait returns when the backup completes"
id=$(readlink "$M/system/backups/latest")
assert_match "$id" '^[0-9a-f]+$' "latest points at the backup id"
assert_eq "$(ls "$M/system/backups/$id" | sort | tr '\n' ' ')" "$(printf '%s\n' backup.json status restore scp scp-status "$id.backup" | sort | tr '\n' ' ')" "backup dir lists its nodes"
assert_eq "$(jq -r .description "$M/system/backups/$id/backup.json")" "two writes" "backup.json"
assert_eq "$(stat -c %Y "$M/system/backups/$id/$id.backup")" "$(date -d "$(jq -r .createdAt "$M/system/backups/$id/backup.json")" +%s)" "archive mtime is createdAt"
assert_eq "$(stat -c %y "$M/system/backups/$id/$id.backup" | sed 's/.*\.\([0-9]*\) .*/\1/')" "000000000" "no sub-second noise"
echo '{"description": "sales"}' > "$M/domains/sales/backups/create"
assert_contains "$(cat "$M/wait")" '"Completed"' "domain backup"
did=$(readlink "$M/domains/sales/backups/latest")

# --- sizes: cat equals stat everywhere ---
bad=0
while IFS= read -r f; do
	case "$f" in */passphrase|*/wait|*.backupkey) continue ;; esac
	s=$(stat -c %s "$f"); n=$(cat "$f" | wc -c)
	[ "$s" = "$n" ] || { echo "size mismatch: $f stat=$s cat=$n" >&2; bad=1; }
	b=$(stat -c %b "$f")
	[ "$b" = $(((s + 511) / 512)) ] || { echo "blocks: $f" >&2; bad=1; }
done < <(find "$M" -type f)
assert_eq "$bad" "0" "every file: cat size = stat size, blocks filled"
assert_eq "$(du -s -B1 "$M/system/backups/$id/$id.backup" | cut -f1)" "$(( ($(stat -c %s "$M/system/backups/$id/$id.backup") + 511) / 512 * 512 ))" "du counts the archive"

# --- read-only and forbidden operations ---
assert_fails_with EACCES "echo x > '$M/README'"
assert_fails_with EACCES "echo x > '$M/system/backups/$id/backup.json'"
assert_fails_with EACCES "touch '$M/system/newfile'"
assert_fails_with EPERM mkdir "$M/system/backups/x"
assert_fails_with EPERM rm -f "$M/README"
assert_fails_with EPERM rmdir "$M/system/backups"
assert_fails_with EACCES cat "$M/passphrase"
assert_fails_with EXDEV python3 -c "'import os,sys; os.rename(sys.argv[1], sys.argv[2])'" "'$M/system/backups/create'" "'$M/system/backups/upload/x'"
assert_fails_with EACCES python3 -c "'import os,sys; os.rename(sys.argv[1], sys.argv[2])'" "'$M/system/backups/create'" "'$M/system/backups/x'"
XA='import os,sys; f=getattr(os, sys.argv[1]); f(*sys.argv[2:])'
assert_fails_with ENOTSUP python3 -c "'$XA'" getxattr "'$M/README'" security.capability
assert_eq "$(python3 -c 'import os,sys; print(os.listxattr(sys.argv[1]))' "$M/README")" "[]" "listxattr: none"
assert_fails_with ENOTSUP python3 -c "'import os,sys; os.setxattr(sys.argv[1], \"user.x\", b\"1\")'" "'$M/README'"

# --- download, upload: cp, cat >, rsync, tar, rclone, rename ---
cp "$M/system/backups/$id/$id.backup" "$BK_TMP/out/"
ok_cmd "download equals the stored archive" cmp "$BK_TMP/out/$id.backup" "$(ls "$A"/state/archives/* | head -1)"
assert_eq "$(stat -c %o "$M/system/backups/$id/$id.backup")" "1048576" "an archive asks for 1 MiB reads (cat reads that much at a time)"
size=$(stat -c %s "$BK_TMP/out/$id.backup")
cp "$BK_TMP/out/$id.backup" "$N/system/backups/upload/"
ok_cmd "cp upload appears as a backup" test -f "$N/system/backups/$id/$id.backup"
assert_eq "$(stat -c %s "$N/system/backups/upload/$id.backup")" "$size" "the receipt stats as the archive"
ok_cmd "the receipt reads as the archive" cmp "$N/system/backups/upload/$id.backup" "$BK_TMP/out/$id.backup"
ok_cmd "chmod on a receipt" chmod 600 "$N/system/backups/upload/$id.backup"
assert_eq "$(stat -c %a "$N/system/backups/upload/$id.backup")" "600" "chmod recorded"
ok_cmd "touch -d on a receipt" touch -d '2020-01-02 03:04:05' "$N/system/backups/upload/$id.backup"
assert_eq "$(stat -c %Y "$N/system/backups/upload/$id.backup")" "$(date -d '2020-01-02 03:04:05' +%s)" "utimens recorded"
ok_cmd "touch on a receipt keeps it" touch "$N/system/backups/upload/$id.backup"
assert_eq "$(stat -c %s "$N/system/backups/upload/$id.backup")" "$size" "touched receipt unchanged"
ok_cmd "unlink a receipt" rm "$N/system/backups/upload/$id.backup"
ok_cmd "the backup stays" test -d "$N/system/backups/$id"
rmdir "$N/system/backups/$id"
assert_status 1 test -d "$N/system/backups/$id"

# cat > (a shell flushes once before writing: dup2 + close)
cat "$BK_TMP/out/$id.backup" > "$N/system/backups/upload/viacat"
ok_cmd "cat > upload" test -d "$N/system/backups/$id"
rmdir "$N/system/backups/$id"
assert_status 1 test -e "$N/system/backups/upload/viacat"
# several processes writing through one open: only the opener's close counts
head -c 1000 "$BK_TMP/out/$id.backup" > "$BK_TMP/part1"
tail -c +1001 "$BK_TMP/out/$id.backup" > "$BK_TMP/part2"
ok_cmd "{ cat a; cat b; } > upload" sh -c "{ cat '$BK_TMP/part1'; cat '$BK_TMP/part2'; } > '$N/system/backups/upload/two'"
ok_cmd "uploaded whole" test -d "$N/system/backups/$id"
rm "$N/system/backups/upload/two"
rmdir "$N/system/backups/$id"
# What is in the file at its close counts, whatever came before: an
# upload is checked as it arrives (core/upcheck.c), so a chunk written
# again after it came must void that check (the changed byte is refused)
# and a bad chunk mended before the close must not stick (taken).  On A,
# which has the key: B cannot check the chunks before a restore.
echo '{}' > "$M/system/backups/create"
cat "$M/wait" > /dev/null
id2=$(readlink "$M/system/backups/latest")
cp "$M/system/backups/$id2/$id2.backup" "$BK_TMP/rw.backup"
rmdir "$M/system/backups/$id2"
cat > "$BK_TMP/rewrite.py" <<'PY'
import os, sys, time
data = open(sys.argv[1], 'rb').read()
at = len(data) - 100
first = bytearray(data)
if sys.argv[3] == 'mend':
    first[at] ^= 0xff
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
done = 0
while done < len(first):
    done += os.pwrite(fd, bytes(first[done:]), done)
time.sleep(0.5)     # the check has read it all by now
byte = data[at] ^ 0xff if sys.argv[3] == 'spoil' else data[at]
os.pwrite(fd, bytes([byte]), at)
os.close(fd)
PY
assert_fails_with EINVAL python3 "'$BK_TMP/rewrite.py'" "'$BK_TMP/rw.backup'" "'$M/system/backups/upload/rw'" spoil
assert_status 1 test -d "$M/system/backups/$id2"
ok_cmd "a bad chunk mended before the close is taken" python3 "$BK_TMP/rewrite.py" "$BK_TMP/rw.backup" "$M/system/backups/upload/rw" mend
ok_cmd "the mended upload is a backup" test -d "$M/system/backups/$id2"
assert_eq "$(bk_log "$M" | grep -c "upload/rw: uploaded as backup $id2 (authenticated as it arrived)" || true)" 0 "the mended upload: checked again at its close"
rm "$M/system/backups/upload/rw"
rmdir "$M/system/backups/$id2"
cp "$BK_TMP/rw.backup" "$M/system/backups/upload/inorder"
assert_contains "$(bk_log "$M")" "upload/inorder: uploaded as backup $id2 (authenticated as it arrived)" "cp: the upload was authenticated as it arrived, not again at the close"
rm "$M/system/backups/upload/inorder"
rmdir "$M/system/backups/$id2"
# the second half first, then the first: no check as it arrives, the
# full pass at the close
cat > "$BK_TMP/ooo.py" <<'PY'
import os, sys
data = open(sys.argv[1], 'rb').read()
half = len(data) // 2
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(fd, data[half:], half)
os.pwrite(fd, data[:half], 0)
os.close(fd)
PY
ok_cmd "an upload written out of order" python3 "$BK_TMP/ooo.py" "$BK_TMP/rw.backup" "$M/system/backups/upload/ooo"
ok_cmd "is a backup" test -d "$M/system/backups/$id2"
assert_contains "$(bk_log "$M")" "upload/ooo: uploaded as backup $id2" "the out-of-order upload is logged"
assert_eq "$(bk_log "$M" | grep -c "upload/ooo: uploaded as backup $id2 (authenticated as it arrived)" || true)" 0 "and was authenticated at its close"
rm "$M/system/backups/upload/ooo"
rmdir "$M/system/backups/$id2"

# rsync twice: the second run copies nothing
rsync -a "$BK_TMP/out/" "$N/system/backups/upload/"
ok_cmd "rsync upload" test -d "$N/system/backups/$id"
n=$(rsync -a --itemize-changes "$BK_TMP/out/" "$N/system/backups/upload/" | grep -c '^>f' || true)
assert_eq "$n" "0" "a second rsync into upload/ copies nothing"
assert_eq "$(ls -A "$B/state/staging" | wc -l)" "0" "no staging file left after rsync"
rm "$N/system/backups/upload/$id.backup"
rmdir "$N/system/backups/$id"

# a .partial name waits until renamed
cp "$BK_TMP/out/$id.backup" "$N/system/backups/upload/x.backup.partial"
assert_status 1 test -d "$N/system/backups/$id"
assert_eq "$(stat -c %s "$N/system/backups/upload/x.backup.partial")" "$size" "a staged file stats with its size"
assert_eq "$(stat -c %o "$N/system/backups/upload/x.backup.partial")" "1048576" "a staged file asks for 1 MiB writes (cp writes that much at a time)"
ok_cmd "a staged file reads back" cmp "$N/system/backups/upload/x.backup.partial" "$BK_TMP/out/$id.backup"
ok_cmd "truncate a staged file" truncate -s 10 "$N/system/backups/upload/x.backup.partial"
assert_eq "$(stat -c %s "$N/system/backups/upload/x.backup.partial")" "10" "really truncated"
cp "$BK_TMP/out/$id.backup" "$N/system/backups/upload/x.backup.partial"
mv "$N/system/backups/upload/x.backup.partial" "$N/system/backups/upload/x.backup"
ok_cmd "rename to a processable name uploads" test -d "$N/system/backups/$id"
rm "$N/system/backups/upload/x.backup"
rmdir "$N/system/backups/$id"
printf 'junk' > "$N/system/backups/upload/.junk"
# rename(2) fails with EINVAL and the entry goes (mv, which then retries
# without RENAME_NOREPLACE, reports "cannot stat")
assert_fails_with EINVAL python3 -c "'import os,sys; os.rename(sys.argv[1], sys.argv[2])'" "'$N/system/backups/upload/.junk'" "'$N/system/backups/upload/junk'"
assert_eq "$(ls -A "$N/system/backups/upload" | wc -l)" "0" "a refused rename leaves nothing"

# tar x, rclone
tar -C "$BK_TMP/out" -cf "$BK_TMP/a.tar" "$id.backup"
tar -C "$N/system/backups/upload" -xf "$BK_TMP/a.tar"
ok_cmd "tar x uploads" test -d "$N/system/backups/$id"
assert_eq "$(stat -c %Y "$N/system/backups/upload/$id.backup")" "$(stat -c %Y "$BK_TMP/out/$id.backup")" "tar's times kept on the receipt"
rm "$N/system/backups/upload/$id.backup"
rmdir "$N/system/backups/$id"
if command -v rclone >/dev/null; then
	ok_cmd "rclone copy uploads" rclone copy --config /dev/null "$BK_TMP/out/" "$N/system/backups/upload/"
	ok_cmd "rclone upload is a backup" test -d "$N/system/backups/$id"
	ok_cmd "a second rclone copy" rclone copy --config /dev/null "$BK_TMP/out/" "$N/system/backups/upload/"
	rm -f "$N/system/backups/upload/$id.backup"
	rmdir "$N/system/backups/$id"
fi
assert_fails_with EINVAL cp /etc/hostname "$N/system/backups/upload/h.backup"
assert_contains "$(jq -r .lastError.message "$N/status")" "archive" "status says it is not an archive"
assert_fails_with EINVAL cp "$BK_TMP/out/$id.backup" "$N/domains/root/backups/upload/"
assert_contains "$(jq -r .lastError.message "$N/status")" "system" "a system archive refused in a domain box"

# --- backup keys ---
kid=$(readlink "$M/system/backupkeys/default")
assert_eq "$(ls "$M/system/backupkeys/$kid" | sort | tr '\n' ' ')" "$(printf '%s\n' default key.json "$kid.backupkey" | sort | tr '\n' ' ')" "key dir lists its nodes"
assert_eq "$(stat -c %a "$M/system/backupkeys/$kid/$kid.backupkey")" "400" "key export is 0400"
assert_fails_with EACCES cat "$M/system/backupkeys/$kid/$kid.backupkey"
assert_contains "$(jq -r .lastError.message "$M/status")" "passphrase" "status says to set a passphrase"
assert_fails_with EINVAL "echo | cat > '$M/passphrase'"
printf '%s\n' "$PASS" > "$M/passphrase"
s=$(stat -c %s "$M/system/backupkeys/$kid/$kid.backupkey")
assert_eq "$(cat "$M/system/backupkeys/$kid/$kid.backupkey" | wc -c)" "$s" "export size exact"
cp "$M/system/backupkeys/$kid/$kid.backupkey" "$BK_TMP/out/"
printf '%s' "$PASS" > "$N/passphrase"
cp "$BK_TMP/out/$kid.backupkey" "$N/system/backupkeys/upload/"
ok_cmd "key upload imports the key" test -d "$N/system/backupkeys/$kid"
assert_eq "$(stat -c %s "$N/system/backupkeys/upload/$kid.backupkey")" "$s" "key receipt keeps its size"
echo '{"name": "second"}' > "$M/system/backupkeys/create"
k2=$(grep -l '"second"' "$M"/system/backupkeys/*/key.json | xargs dirname | xargs basename)
echo 1 > "$M/system/backupkeys/$k2/default"
assert_eq "$(readlink "$M/system/backupkeys/default")" "$k2" "default moved"
assert_fails_with EBUSY rmdir "$M/system/backupkeys/$k2"
echo 1 > "$M/system/backupkeys/$kid/default"
ok_cmd "rmdir a key" rmdir "$M/system/backupkeys/$k2"
assert_fails_with EINVAL "echo '{\"colour\": 1}' > '$M/system/backupkeys/create'"

# --- restore box, restore control ---
cp "$BK_TMP/out/$id.backup" "$N/system/backups/restore/"
assert_contains "$(cat "$N/wait")" '"restore"' "restore/ box starts a restore"
assert_contains "$(cat "$N/status")" '"Completed"' "the restore completes"
assert_fails_with EINVAL "echo '{\"force\": 3}' > '$N/system/backups/$id/restore'"

# --- stable across a remount ---
paths=("system/backups/$id/$id.backup" "system/backups/$id" "system/backups/$id/backup.json" "system/backupkeys/$kid/key.json" "system/backupkeys/$kid")
before=$(cd "$M" && stat -c '%n %i %s %Y' "${paths[@]}")
rbefore=$(cd "$M" && stat -c '%n %i %s' domains/sales/resources/users/plain.json system/backups/create)
bk_umount "$M"
bk_mount "$A/state" "$M"
assert_eq "$(cd "$M" && stat -c '%n %i %s %Y' "${paths[@]}")" "$before" "inode, size and mtime of backups and keys stable across remount"
assert_eq "$(cd "$M" && stat -c '%n %i %s' domains/sales/resources/users/plain.json system/backups/create)" "$rbefore" "inode and size of other nodes stable"
rsync -a "$M/system/backups/" "$BK_TMP/rs/"
n=$(rsync -a --itemize-changes "$M/system/backups/" "$BK_TMP/rs/" | grep -c '^>f' || true)
assert_eq "$n" "0" "second rsync -a of backups/ copies nothing"
st=$(cat "$M/status")
pub=$(cat "$M/scp/public-key")
audited=$(wc -l < "$M/audit")
n=$(tar -C "$M/system" -cf - backups | tar -tf - | grep -c "/$id.backup\$")
assert_eq "$n" "1" "tar c of backups/"
find "$M" -type f ! -name wait ! -name passphrase ! -name '*.backupkey' -exec sha256sum {} + >/dev/null
assert_eq "$(cat "$M/status")" "$st" "rsync, tar and find act on nothing"
# reading scp/rotate, hsm/rotate, schedules/*/run-now ... acts on nothing
# either: the SSH key is the same, and no action was audited
assert_eq "$(cat "$M/scp/public-key")" "$pub" "reading scp/rotate keeps the SSH key"
assert_eq "$(wc -l < "$M/audit")" "$audited" "reading every file is no audited action"

# each open handle of a control file has its own buffer: two writers
# interleaved on backupkeys/create each create their own key
exec 3> "$M/system/backupkeys/create" 4> "$M/system/backupkeys/create"
printf '{"name":' >&3
printf '{"name":"handle-four"}' >&4
printf '"handle-three"}' >&3
exec 3>&- 4>&-
names=$(cat "$M"/system/backupkeys/*/key.json | jq -r .name | sort | tr '\n' ' ')
assert_contains "$names" "handle-four" "the second handle's object acted on its own"
assert_contains "$names" "handle-three" "the first handle's object, split across writes, acted too"

bk_done
