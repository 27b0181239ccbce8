#!/bin/bash
# The seed's whole system-backup cycle across two appliances, A and B,
# driven with echo, cat, cp, rsync and tar on real mounts.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

# ok_cmd WHAT CMD...: CMD must succeed.
ok_cmd() {
	local what=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$what"; else fail "$what: $* exited $rc: $out"; fi
}

A=$BK_TMP/a
B=$BK_TMP/b
PASS='correct horse battery staple'
mkdir -p "$A/mnt" "$B/mnt" "$BK_TMP/out"
"$BACKUPCTL" init "$A/state" --product-version 2.20.0 --lts 2.11,2.17,2.20,2.25 --demo >/dev/null
"$BACKUPCTL" init "$B/state" --product-version 2.21.0 --lts 2.11,2.17,2.20,2.25 >/dev/null
"$BACKUPCTL" --state "$A/state" resource add --domain root --type keys \
	--name cycle-key --attrs '{"algorithm":"AES","size":256}' >/dev/null
"$BACKUPCTL" --state "$A/state" domain create sales >/dev/null
"$BACKUPCTL" --state "$A/state" resource add --domain sales --type users \
	--name 'carol/ops' --attrs '{"email":"carol@sales"}' >/dev/null
bk_mount "$A/state" "$A/mnt"
bk_mount "$B/state" "$B/mnt"

# --- before anything: Idle ---
assert_contains "$(cat "$B/mnt/status")" '"Idle"' "status is Idle before any operation"

# --- backup in A ---
echo '{"description":"cycle test"}' > "$A/mnt/system/backups/create"
st=$(cat "$A/mnt/wait")
assert_contains "$st" '"Completed"' "backup completes"
assert_contains "$st" '"operation": "backup"' "status names the operation"
id=$(readlink "$A/mnt/system/backups/latest")
assert_eq "$(cat "$A/mnt/system/backups/$id/status")" "Completed" "per-backup status"
assert_contains "$(cat "$A/mnt/system/backups/$id/backup.json")" '"description": "cycle test"' "backup.json has the description"

# --- download: cp, sha256 matches backupctl verify ---
cp "$A/mnt/system/backups/$id/$id.backup" "$BK_TMP/out/"
sum=$(sha256sum "$BK_TMP/out/$id.backup" | cut -d' ' -f1)
ver=$("$BACKUPCTL" --state "$A/state" verify "$BK_TMP/out/$id.backup")
assert_contains "$ver" "$sum" "sha256 of the download equals backupctl verify's"
assert_eq "$("$BACKUPCTL" inspect "$BK_TMP/out/$id.backup" | jq -r .productVersion)" "2.20.0" "inspect shows the header without a key"

# --- backup key export with a passphrase ---
kid=$(readlink "$A/mnt/system/backupkeys/default")
assert_fails_with EACCES cat "$A/mnt/system/backupkeys/$kid/$kid.backupkey"
printf '%s\n' "$PASS" > "$A/mnt/passphrase"
cp "$A/mnt/system/backupkeys/$kid/$kid.backupkey" "$BK_TMP/out/"
assert_eq "$("$BACKUPCTL" inspect "$BK_TMP/out/$kid.backupkey" | jq -r .id)" "$kid" "key file inspects offline"
ok_cmd "key file password test" sh -c "printf '%s\n' '$PASS' | '$BACKUPCTL' inspect --password '$BK_TMP/out/$kid.backupkey'"

# --- B: archive before its key is accepted, but cannot restore yet ---
rsync "$BK_TMP/out/$id.backup" "$B/mnt/system/backups/upload/"
ok_cmd "uploaded archive is listed in B" test -d "$B/mnt/system/backups/$id"
assert_contains "$(cat "$B/mnt/system/backups/$id/status")" "not on this appliance" "status says the key is missing"
assert_fails_with EINVAL "echo '{}' > '$B/mnt/system/backups/$id/restore'"
assert_contains "$(cat "$B/mnt/status")" "upload it" "status says to upload the key"

# --- wrong passphrase, then the right one, with rsync ---
printf 'not the right passphrase\n' > "$B/mnt/passphrase"
assert_fails_with EINVAL rsync "$BK_TMP/out/$kid.backupkey" "$B/mnt/system/backupkeys/upload/"
assert_contains "$(cat "$B/mnt/status")" "wrong passphrase" "status says wrong passphrase"
assert_status 1 test -d "$B/mnt/system/backupkeys/$kid"
printf '%s\n' "$PASS" > "$B/mnt/passphrase"
rsync "$BK_TMP/out/$kid.backupkey" "$B/mnt/system/backupkeys/upload/"
ok_cmd "key uploaded to B" test -d "$B/mnt/system/backupkeys/$kid"

# --- restore in B; resource views equal ---
echo '{}' > "$B/mnt/system/backups/$id/restore"
st=$(cat "$B/mnt/wait")
assert_contains "$st" '"operation": "restore"' "restore is the operation"
assert_contains "$st" '"Completed"' "restore completes"
ok_cmd "resource views of A and B are equal" diff -r "$A/mnt/domains/root/resources" "$B/mnt/domains/root/resources"
ok_cmd "sales domain restored with an encoded name" test -f "$B/mnt/domains/sales/resources/users/carol%2Fops.json"
ok_cmd "all domains restored" diff <(ls "$A/mnt/domains") <(ls "$B/mnt/domains")
for d in $(ls "$A/mnt/domains"); do
	ok_cmd "domain $d equal" diff -r "$A/mnt/domains/$d/resources" "$B/mnt/domains/$d/resources"
done
# backups and backup keys survive the restore
ok_cmd "backup still listed after restore" test -d "$B/mnt/system/backups/$id"
ok_cmd "key still there after restore" test -d "$B/mnt/system/backupkeys/$kid"

# --- rsync -a of backups/ twice: the second copies nothing ---
rsync -a "$A/mnt/system/backups/" "$BK_TMP/rs/"
n=$(rsync -a --itemize-changes "$A/mnt/system/backups/" "$BK_TMP/rs/" | grep -c '^>f' || true)
assert_eq "$n" "0" "second rsync -a copies nothing"
ok_cmd "rsync copy of the archive is intact" cmp "$BK_TMP/rs/$id/$id.backup" "$BK_TMP/out/$id.backup"

# --- every file reads completely and equals its stat size ---
bad=0
while IFS= read -r f; do
	case "$f" in */passphrase|*/wait|*/upload/*|*/restore/*) continue ;; esac
	s=$(stat -c %s "$f"); n=$(cat "$f" | wc -c)
	if [ "$s" != "$n" ]; then echo "size mismatch: $f stat=$s cat=$n" >&2; bad=1; fi
done < <(find "$A/mnt" -type f)
assert_eq "$bad" "0" "cat of every file equals its stat size"

# --- bad input changes nothing ---
before=$(ls "$A/mnt/system/backups" | sort)
assert_fails_with EINVAL "echo 'not json' > '$A/mnt/system/backups/create'"
assert_fails_with EINVAL "bk_put '$A/mnt/system/backups/create' '{\"description\": \"x\"'"
assert_contains "$(cat "$A/mnt/status")" "incomplete" "status says incomplete JSON"
assert_fails_with EINVAL "echo '{\"bogus\": 1}' > '$A/mnt/system/backups/create'"
assert_contains "$(cat "$A/mnt/status")" 'unknown field' "status names the unknown field"
assert_fails_with EINVAL "echo '{\"backupKey\": \"nope\"}' > '$A/mnt/system/backups/create'"
assert_contains "$(cat "$A/mnt/status")" 'nope' "status names the unknown key"
assert_fails_with EINVAL "echo '{\"description\": 5}' > '$A/mnt/system/backups/create'"
assert_eq "$(ls "$A/mnt/system/backups" | sort)" "$before" "refused requests created no backup"
: > "$A/mnt/system/backups/create"
assert_eq "$(ls "$A/mnt/system/backups" | sort)" "$before" "truncating a control file acts on nothing"
cat "$A/mnt/system/backups/create" >/dev/null
assert_eq "$(ls "$A/mnt/system/backups" | sort)" "$before" "reading a control file acts on nothing"

# tampered and truncated uploads are refused and leave nothing behind
cp "$BK_TMP/out/$id.backup" "$BK_TMP/tampered.backup"
size=$(stat -c %s "$BK_TMP/tampered.backup")
printf '\xff' | dd of="$BK_TMP/tampered.backup" bs=1 seek=$((size - 100)) conv=notrunc status=none
"$BACKUPCTL" init "$BK_TMP/c-state" >/dev/null
mkdir -p "$BK_TMP/c-mnt"
bk_mount "$BK_TMP/c-state" "$BK_TMP/c-mnt"
printf '%s\n' "$PASS" > "$BK_TMP/c-mnt/passphrase"
cp "$BK_TMP/out/$kid.backupkey" "$BK_TMP/c-mnt/system/backupkeys/upload/"
staged=$(ls "$BK_TMP/c-state/staging" | wc -l)
assert_fails_with EINVAL cp "$BK_TMP/tampered.backup" "$BK_TMP/c-mnt/system/backups/upload/"
assert_contains "$(cat "$BK_TMP/c-mnt/status")" "tampered" "status says tampered"
assert_status 1 test -d "$BK_TMP/c-mnt/system/backups/$id"
head -c $((size / 2)) "$BK_TMP/out/$id.backup" > "$BK_TMP/trunc.backup"
assert_fails_with EINVAL cp "$BK_TMP/trunc.backup" "$BK_TMP/c-mnt/system/backups/upload/"
assert_contains "$(cat "$BK_TMP/c-mnt/status")" "truncated" "status says truncated"
assert_fails_with EINVAL cp /etc/hostname "$BK_TMP/c-mnt/system/backups/upload/x.backup"
assert_contains "$(cat "$BK_TMP/c-mnt/status")" "not a backupfs archive" "status says not an archive"
assert_eq "$(ls "$BK_TMP/c-mnt/system/backups/upload" | wc -l)" "0" "nothing left in upload/"
assert_eq "$(ls "$BK_TMP/c-state/staging" | wc -l)" "$staged" "rejected uploads leave no staged file"
assert_eq "$(ls "$BK_TMP/c-state/archives" | wc -l)" "0" "no archive stored"

# a tampered copy of a backup that is already there is not "the same
# archive again": it is refused, and the stored one is unchanged
cp "$BK_TMP/out/$id.backup" "$BK_TMP/c-mnt/system/backups/upload/"
stored=$(sha256sum < "$BK_TMP/c-mnt/system/backups/$id/$id.backup")
assert_fails_with EINVAL cp "$BK_TMP/tampered.backup" "$BK_TMP/c-mnt/system/backups/upload/"
assert_eq "$(sha256sum < "$BK_TMP/c-mnt/system/backups/$id/$id.backup")" "$stored" "stored archive unchanged"
cp "$BK_TMP/out/$id.backup" "$BK_TMP/c-mnt/system/backups/upload/again.backup"
pass "the identical archive uploaded again is accepted"
# a header whose id is not an engine id is refused, key or no key
python3 - "$BK_TMP/out/$id.backup" "$BK_TMP/forged.backup" "$id" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
forged = data.replace(sys.argv[3].encode(), b'latest' + b'x' * 26, 1)
open(sys.argv[2], 'wb').write(forged)
PY
assert_fails_with EINVAL cp "$BK_TMP/forged.backup" "$BK_TMP/c-mnt/system/backups/upload/"
assert_status 1 test -d "$BK_TMP/c-mnt/system/backups/latest$(printf 'x%.0s' $(seq 26))"
rmdir "$BK_TMP/c-mnt/system/backups/$id"

# tar x into upload/ and the restore/ box
tar -C "$BK_TMP/out" -cf "$BK_TMP/a.tar" "$id.backup"
tar -C "$BK_TMP/c-mnt/system/backups/upload" -xf "$BK_TMP/a.tar"
ok_cmd "tar x uploads" test -f "$BK_TMP/c-mnt/system/backups/$id/$id.backup"
rmdir "$BK_TMP/c-mnt/system/backups/$id"
assert_status 1 test -d "$BK_TMP/c-mnt/system/backups/$id"
cp "$BK_TMP/out/$id.backup" "$BK_TMP/c-mnt/system/backups/restore/"
assert_contains "$(cat "$BK_TMP/c-mnt/wait")" '"Completed"' "restore/ box restores"
ok_cmd "restore through restore/ equals A" diff -r "$A/mnt/domains/root/resources" "$BK_TMP/c-mnt/domains/root/resources"

# --- a backup from a newer release does not restore; nothing changes ---
"$BACKUPCTL" --state "$A/state" config set product-version 2.22.0
echo '{"description":"newer"}' > "$A/mnt/system/backups/create"
cat "$A/mnt/wait" >/dev/null
nid=$(readlink "$A/mnt/system/backups/latest")
"$BACKUPCTL" --state "$B/state" resource add --domain root --type users --name only-in-b >/dev/null
snap=$(find "$B/mnt/domains" -path '*/resources/*' -type f | sort | xargs cat | sha256sum)
cp "$A/mnt/system/backups/$nid/$nid.backup" "$B/mnt/system/backups/upload/"
assert_fails_with EINVAL "echo '{\"force\": true}' > '$B/mnt/system/backups/$nid/restore'"
assert_contains "$(cat "$B/mnt/status")" "older" "status says the release is older"
assert_eq "$(find "$B/mnt/domains" -path '*/resources/*' -type f | sort | xargs cat | sha256sum)" "$snap" "refused restore changed nothing"

# --- a second operation while one runs: EBUSY ---
seq 1 250000 | sed 's/.*/{"domain":"root","type":"keys","name":"bulk-&"}/' > "$BK_TMP/bulk.jsonl"
"$BACKUPCTL" --state "$A/state" resource import "$BK_TMP/bulk.jsonl" >/dev/null
echo '{}' > "$A/mnt/system/backups/create"
assert_fails_with EBUSY "echo '{}' > '$A/mnt/system/backups/create'"
assert_contains "$(cat "$A/mnt/status")" "in progress" "status says another operation runs"
busy=$(ls "$A/mnt/system/backups" | grep -vc -e create -e upload -e restore -e latest)
running=$(jq -r .backupId < "$A/mnt/status")
assert_fails_with EBUSY rmdir "$A/mnt/system/backups/$running"
assert_contains "$(cat "$A/mnt/wait")" '"Completed"' "the big backup completes"
assert_eq "$(ls "$A/mnt/system/backups" | grep -vc -e create -e upload -e restore -e latest)" "$busy" "EBUSY created no backup"

# --- backup keys: create, default, delete ---
echo '{"name":"second","default":true}' > "$A/mnt/system/backupkeys/create"
k2=$(readlink "$A/mnt/system/backupkeys/default")
assert_contains "$(cat "$A/mnt/system/backupkeys/$k2/key.json")" '"name": "second"' "new key is the default"
assert_fails_with EBUSY rmdir "$A/mnt/system/backupkeys/$k2"
echo x > "$A/mnt/system/backupkeys/$kid/default"
assert_eq "$(readlink "$A/mnt/system/backupkeys/default")" "$kid" "default moved back"
rmdir "$A/mnt/system/backupkeys/$k2"
assert_status 1 test -d "$A/mnt/system/backupkeys/$k2"
assert_fails_with EINVAL "echo '{\"name\":\"x\",\"colour\":\"red\"}' > '$A/mnt/system/backupkeys/create'"
echo '{"name":"dom"}' > "$A/mnt/domains/root/backupkeys/create"
assert_eq "$(grep -l '"name": "dom"' "$A"/mnt/domains/root/backupkeys/*/key.json | wc -l)" "1" "domain key created"

# --- stable across a remount: inode, size, mtime ---
before=$(stat -c '%i %s %Y' "$A/mnt/system/backups/$id/$id.backup")
bk_umount "$A/mnt"
bk_mount "$A/state" "$A/mnt"
assert_eq "$(stat -c '%i %s %Y' "$A/mnt/system/backups/$id/$id.backup")" "$before" "inode, size and mtime stable across remount"
n=$(rsync -a --itemize-changes "$A/mnt/system/backups/" "$BK_TMP/rs/" | grep -c "$id.backup" || true)
assert_eq "$n" "0" "rsync after remount does not copy the old archive again"

bk_done
