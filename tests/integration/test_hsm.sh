#!/bin/bash
# The root of trust on a PKCS#11 token (SoftHSM2, a token made here):
# init --hsm, backups tied to the HSM (round trip, refused after a
# rotation, restored after activating the original key, on a second
# appliance sharing the token key, refused on one without), tiedToHSM
# refusals, HSM-anchored domains, wrong PIN and missing module, and
# kill -9 during a rotation at several points; rotation and activation
# through the mount (hsm/), EBUSY with backups, who may do them, and the
# daemon killed during a rotation.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

# ---- a token of our own ----
. "$(dirname "$0")/softhsm.sh"
bk_softhsm_token bk-test 1234
bk_softhsm_token bk-other 4321
printf '1234\n' > "$BK_TMP/pin"
printf '9999\n' > "$BK_TMP/badpin"
Q="module-name=softhsm2&pin-source=$BK_TMP/pin"
URI="pkcs11:token=bk-test;object=rot?$Q"
A=$BK_TMP/a
B=$BK_TMP/b
C=$BK_TMP/c
ctl() { "$BACKUPCTL" "$@"; }
# The key id as a URI id= (percent-encoded bytes).
uri_id() { printf '%s' "$1" | sed 's/../%&/g'; }
# Writes JSON to a control file, then waits for the operation: its status.
run() {
	bk_put "$1" "$2"
	jq -r .status < "$3/wait"
}
count() { sqlite3 "$1/backupfs.db" "SELECT count(*) FROM resources"; }

# ---- init --hsm ----
assert_ok ctl init "$A" --demo --hsm "$URI"
assert_eq "$(stat -c %a "$A/backupfs.db")" 600 "database 0600"
ok=1; [ -e "$A/rot.key" ] && ok=0
assert_eq "$ok" 1 "no software key file with an HSM root of trust"
st=$(ctl --state "$A" hsm status)
K1=$(jq -r .keyId <<<"$st")
assert_eq "$(jq -r .kind <<<"$st")" pkcs11 "hsm status: kind"
assert_eq "$(jq -r .token <<<"$st")" bk-test "hsm status: token label"
assert_eq "$(jq -r '.keys | length' <<<"$st")" 1 "one key version"
assert_eq "$(jq -r '.keys[0].state' <<<"$st")" active "it is active"
assert_eq "$(sqlite3 "$A/backupfs.db" "SELECT count(*) FROM settings WHERE value LIKE '%1234%'")" 0 "the PIN is not stored"
# The key on the token: sensitive, not extractable, wrap/unwrap only.
attrs=$(pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label bk-test \
	--login --pin 1234 --list-objects --type secrkey 2>/dev/null)
assert_contains "$attrs" 'label:      rot' "the key is on the token"
assert_contains "$attrs" 'Usage:      wrap, unwrap' "it may only wrap and unwrap"
assert_match "$attrs" 'Access: +sensitive.*never extractable' "it is sensitive and never extractable"

# Wrong PIN, missing module, missing token: clear errors, nothing made.
err=$(ctl init "$BK_TMP/x1" --hsm "pkcs11:token=bk-test;object=rot?module-name=softhsm2&pin-source=$BK_TMP/badpin" 2>&1) || true
assert_contains "$err" "PIN is incorrect" "wrong PIN named"
err=$(ctl init "$BK_TMP/x2" --hsm "pkcs11:token=bk-test;object=rot?module-path=/nonexistent/libnone.so&pin-source=$BK_TMP/pin" 2>&1) || true
assert_contains "$err" "/nonexistent/libnone.so cannot be loaded" "missing module named"
err=$(ctl init "$BK_TMP/x3" --hsm "pkcs11:token=no-such;object=rot?$Q" 2>&1) || true
assert_contains "$err" "no HSM token matches" "missing token said"
err=$(ctl init "$BK_TMP/x4" --hsm "pkcs11:token=bk-test;object=rot?module-name=softhsm2" 2>&1) || true
assert_contains "$err" "needs a PIN" "missing PIN said"
assert_eq "$(find "$BK_TMP" -maxdepth 1 -name "x[1-4]" | wc -l)" 0 "failed inits left no files"

# A PIN given as pin-value= is used for that run and never stored: later
# runs need it again (--hsm, -o hsm=) and say so.
P=$BK_TMP/p
assert_ok ctl init "$P" --hsm "pkcs11:token=bk-other;object=pv?module-name=softhsm2&pin-value=4321"
assert_eq "$(grep -c "pin-value\|=4321" "$P/backupfs.db" || true)" 0 "pin-value not in the database"
err=$(ctl --state "$P" hsm status 2>&1) || true
assert_contains "$err" "needs a PIN" "without it: needs a PIN"
assert_eq "$(ctl --state "$P" --hsm "pkcs11:token=bk-other;object=pv?module-name=softhsm2&pin-value=4321" hsm status | jq -r .token)" bk-other "backupctl --hsm gives it"
mkdir -p "$BK_TMP/m-bad"
err=$("$BACKUPFS" -f "$P" "$BK_TMP/m-bad" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "backupfs without the PIN exits 1"
assert_contains "$err" "needs a PIN" "and says it needs a PIN"
printf '4321\n' > "$BK_TMP/pin-p"
bk_mount -o "hsm=pkcs11:token=bk-other;object=pv?module-name=softhsm2&pin-source=$BK_TMP/pin-p" "$P" "$BK_TMP/mp"
assert_eq "$(jq -r .hsm.token "$BK_TMP/mp/appliance.json")" bk-other "-o hsm= with pin-source mounts"
bk_umount "$BK_TMP/mp"

# The daemon with a wrong PIN refuses to mount, with the reason.
mkdir -p "$BK_TMP/m-bad"
err=$("$BACKUPFS" -f -o "hsm=pkcs11:token=bk-test;object=rot?module-name=softhsm2&pin-source=$BK_TMP/badpin" \
	"$A" "$BK_TMP/m-bad" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "backupfs -o hsm= with a wrong PIN exits 1"
assert_contains "$err" "PIN is incorrect" "and says the PIN is wrong"
err=$("$BACKUPFS" -f -o "hsm=pkcs11:token=bk-test;object=rot?module-path=/nonexistent/libnone.so&pin-source=$BK_TMP/pin" \
	"$A" "$BK_TMP/m-bad" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "backupfs -o hsm= with a missing module exits 1"
assert_contains "$err" "/nonexistent/libnone.so cannot be loaded" "and names the module"
assert_eq "$(ctl --state "$A" hsm status | jq -r .mechanism)" CKM_AES_KEY_WRAP_PAD "SoftHSM takes RFC 5649 as 0x210A (0x210B refused)"

# ---- tied backup: round trip ----
MA=$BK_TMP/ma
bk_mount "$A" "$MA"
aj=$(cat "$MA/appliance.json")
assert_eq "$(jq -r .hsm.kind <<<"$aj")" pkcs11 "appliance.json: kind"
assert_eq "$(jq -r .hsm.keyId <<<"$aj")" "$K1" "appliance.json: active key"
assert_eq "$(jq -r .hsm.token <<<"$aj")" bk-test "appliance.json: token"
assert_eq "$(grep -c 1234 <<<"$aj" || true)" 0 "appliance.json: no PIN"
assert_eq "$(run "$MA/system/backups/create" '{"tiedToHSM":true,"description":"tied"}' "$MA")" Completed "tied backup Completed"
T=$(readlink "$MA/system/backups/latest")
bj=$(cat "$MA/system/backups/$T/backup.json")
assert_eq "$(jq -r .tiedToHSM <<<"$bj")" true "backup.json: tiedToHSM"
assert_eq "$(jq -r .hsmKeyId <<<"$bj")" "$K1" "backup.json: the HSM key"
mkdir -p "$BK_TMP/out"
cp "$MA/system/backups/$T/$T.backup" "$BK_TMP/out/"
ins=$(ctl inspect "$BK_TMP/out/$T.backup")
assert_eq "$(jq -r .tiedToHSM <<<"$ins")" true "inspect: tiedToHSM"
assert_eq "$(jq -r .hsmKeyId <<<"$ins")" "$K1" "inspect: the HSM key"
assert_ok ctl --state "$A" verify "$BK_TMP/out/$T.backup"
assert_eq "$(run "$MA/system/backups/create" '{"description":"not tied"}' "$MA")" Completed "untied backup Completed"
U=$(readlink "$MA/system/backups/latest")
before=$(count "$A")
ctl --state "$A" resource add --domain root --type users --name after-tied >/dev/null
assert_eq "$(run "$MA/system/backups/$T/restore" '{}' "$MA")" Completed "tied backup restores"
assert_eq "$(count "$A")" "$before" "its data is back"

# ---- refusals of tiedToHSM ----
assert_fails_with EINVAL "bk_put '$MA/domains/root/backups/create' '{\"tiedToHSM\":true}'"
assert_contains "$(cat "$MA/status")" "only system backups" "domain tied: reason"
assert_fails_with EINVAL "bk_put '$MA/domains/root/backups/create' '{\"tiedToHSM\":false}'"

# ---- rotate through the mount: the tied backup is refused, naming the key ----
pid=${BK_MOUNT_PID[$MA]}
err=$(ctl --state "$A" hsm rotate 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "backupctl hsm rotate refused while mounted"
assert_contains "$err" "$MA/hsm/rotate" "and names the mount's hsm/rotate"
hs=$(cat "$MA/hsm/status.json")
assert_eq "$(jq -r .keyId <<<"$hs")" "$K1" "hsm/status.json: the active key"
assert_eq "$(jq -r .token <<<"$hs")" bk-test "hsm/status.json: the token"
assert_eq "$(grep -c 1234 <<<"$hs" || true)" 0 "hsm/status.json: no PIN"
assert_contains "$(cat "$MA/hsm/rotate")" "echo '{}' > rotate" "reading hsm/rotate shows its usage"
assert_contains "$(cat "$MA/README")" "hsm/rotate" "README explains hsm/"
assert_fails_with EINVAL "bk_put '$MA/hsm/rotate' '{\"keyId\":\"$K1\"}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "unknown field" "rotate takes no field"
assert_fails_with EINVAL "bk_put '$MA/hsm/activate' '{\"keyId\":\"$K1\"}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "already the active" "activating the active key: EINVAL"
assert_fails_with EINVAL "bk_put '$MA/hsm/activate' '{\"keyId\":\"not-hex\"}'"
assert_fails_with ENOENT "bk_put '$MA/hsm/activate' '{\"keyId\":\"0011223344556677\"}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "no key labelled" "an unknown key: named"
assert_eq "$(jq -r .hsm.keyId "$MA/appliance.json")" "$K1" "the refusals changed nothing"
# A backupctl that opened the state directory before the daemon rotates
# (its import waits for its input) stores nothing under the old key.
mkfifo "$BK_TMP/imp"
exec 3<>"$BK_TMP/imp"
"$BACKUPCTL" --state "$A" resource import "$BK_TMP/imp" >"$BK_TMP/imp.log" 2>&1 3>&- &
ipid=$!
# It must hold its input before the rotation (up to 120 s: under
# AddressSanitizer on a loaded machine its start has taken over 10 s).
# Its fd on the FIFO exactly: a grep for the path also matched its log
# (imp.out then), and the rotation could go first.
holds() {
	local fd
	for fd in "/proc/$1/fd/"*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}
opened=0
for ((i = 0; i < 1200; i++)); do
	if holds "$ipid" "$BK_TMP/imp"; then
		opened=1
		break
	fi
	kill -0 "$ipid" 2>/dev/null || break
	sleep 0.1
done
assert_eq "$opened" 1 "the import holds its input before the rotation (after $((i / 10)).$((i % 10)) s)"
assert_eq "$(run "$MA/hsm/rotate" '{}' "$MA")" Completed "rotate through the mount"
printf '{"domain":"root","type":"keys","name":"stale-1"}\n' >&3
exec 3>&-
[ "$opened" = 1 ] || kill "$ipid" 2>/dev/null	# else it waits for a writer
rc=0; bk_wait_for "$ipid" 120 || rc=$?
assert_eq "$rc" 1 "an import opened before the rotation is refused"
assert_contains "$(cat "$BK_TMP/imp.log")" "rotated meanwhile" "and says why"
assert_eq "$(sqlite3 "$A/backupfs.db" "SELECT count(*) FROM resources WHERE name = 'stale-1'")" 0 "nothing was stored"
st=$(cat "$MA/status")
K2=$(jq -r .keyId "$MA/hsm/status.json")
assert_match "$K2" '^[0-9a-f]{16}$' "a new active key"
assert_eq "$(jq -r '.operation + " " + (.progress|tostring)' <<<"$st")" "rotate 100" "status: the rotate operation"
assert_contains "$(jq -r .message <<<"$st")" "$K2" "status names the new key"
assert_eq "$(jq -r '.keys[] | select(.id=="'"$K1"'") | .state + " " + (.onToken|tostring)' "$MA/hsm/status.json")" "inactive true" "old key inactive, still on the token"
assert_eq "$(jq -r .hsm.keyId "$MA/appliance.json")" "$K2" "appliance.json: the new key"
assert_eq "$(jq -r 'select(.operation=="hsm.rotate") | .result' "$MA/audit" | tail -1)" ok "the rotation is audited"
before=$(count "$A")
assert_fails_with EINVAL "bk_put '$MA/system/backups/$T/restore' '{}'"
msg=$(jq -r .lastError.message "$MA/status")
assert_contains "$msg" "$K1" "refusal names the tied key"
assert_contains "$msg" "not the active key" "and says it is not active"
assert_eq "$(count "$A")" "$before" "nothing changed"
assert_eq "$(run "$MA/system/backups/$U/restore" '{}' "$MA")" Completed "untied backup still restores after rotation"
err=$(ctl --state "$A" verify "$BK_TMP/out/$T.backup" 2>&1) || true
assert_contains "$err" "$K1" "verify names the tied key"
# Secrets made after the rotation are wrapped by the new key: a key
# created, resources added, a backup key uploaded, all still mounted.
printf 'hsm test passphrase\n' > "$MA/passphrase"
bk_put "$MA/system/backupkeys/create" '{"name":"after-rotate"}'
ctl --state "$A" resource add --domain root --type keys --name after-rotate >/dev/null
# A new tied backup is tied to the new key.
assert_eq "$(run "$MA/system/backups/create" '{"tiedToHSM":true}' "$MA")" Completed "tied backup under the new key"
T2=$(readlink "$MA/system/backups/latest")
assert_eq "$(jq -r .hsmKeyId "$MA/system/backups/$T2/backup.json")" "$K2" "tied to the new key"

# ---- activate the original through the mount: restores again ----
assert_eq "$(run "$MA/hsm/activate" "{\"keyId\":\"$K1\"}" "$MA")" Completed "activate the original key through the mount"
assert_eq "$(jq -r .operation "$MA/status")" activate "status: the activate operation"
assert_eq "$(jq -r .keyId "$MA/hsm/status.json")" "$K1" "it is active"
assert_eq "$(run "$MA/system/backups/$T/restore" '{}' "$MA")" Completed "tied backup restores after activate"
assert_fails_with EINVAL "bk_put '$MA/system/backups/$T2/restore' '{}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "$K2" "the other one names its key"
assert_eq "$(run "$MA/system/backups/create" '{}' "$MA")" Completed "every secret unwraps under the activated key"
assert_eq "${BK_MOUNT_PID[$MA]}" "$pid" "all of it without unmounting"
kid=$(readlink "$MA/system/backupkeys/default")
cp "$MA/system/backupkeys/$kid/$kid.backupkey" "$BK_TMP/out/"
bk_umount "$MA"

# ---- one operation at a time: EBUSY both ways ----
touch "$BK_TMP/release"
rm "$BK_TMP/release"
export BACKUPFS_FAULT_RELEASE=$BK_TMP/release
BACKUPFS_FAULT=backup.commit:stall bk_mount "$A" "$MA"
bk_put "$MA/system/backups/create" '{}'
assert_fails_with EBUSY "bk_put '$MA/hsm/rotate' '{}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "cannot rotate the root of trust now" "rotate during a backup: EBUSY, said"
touch "$BK_TMP/release"
assert_eq "$(jq -r .status "$MA/wait")" Completed "the backup completes"
bk_umount "$MA"
rm "$BK_TMP/release"
echo 2030-01-01T00:00:30Z > "$BK_TMP/clock"	# the schedules' clock
BACKUPFS_CLOCK=$BK_TMP/clock BACKUPFS_FAULT=hsm.rotate.start:stall \
	bk_mount "$A" "$MA"
bk_put "$MA/schedules/create" '{"name": "tied", "run_at": "0 0 1 1 *",
	"database_backup_params": {"tiedToHSM": true}}'
bk_put "$MA/hsm/rotate" '{}'
assert_eq "$(jq -r '.operation + " " + .status' "$MA/status")" "rotate In Progress" "status shows the rotation running"
assert_fails_with EBUSY "bk_put '$MA/system/backups/create' '{}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "root of trust is being changed" "a backup during a rotation: EBUSY, said"
assert_fails_with EBUSY "bk_put '$MA/system/backups/$T/restore' '{}'"
assert_fails_with EBUSY "bk_put '$MA/hsm/activate' '{\"keyId\":\"$K2\"}'"
# a scheduled backup waits for the rotation like for a restore, then is
# skipped with the reason; after it, it runs tied to the new key
lastrun() { tail -n 1 "$MA/schedules/tied/runs"; }
settle() {	# STATUS
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(lastrun | jq -r .status)" = "$1" ] && return 0
		sleep 0.1
	done
}
echo 1 > "$MA/schedules/tied/run-now"
echo 2030-01-01T01:01:00Z > "$BK_TMP/clock"
settle Skipped
assert_eq "$(lastrun | jq -r .status)" Skipped "a scheduled run during a rotation: Skipped after the wait"
assert_contains "$(lastrun | jq -r .reason)" "root of trust is being changed" "the skip's reason names the rotation"
touch "$BK_TMP/release"
assert_eq "$(jq -r .status "$MA/wait")" Completed "the rotation completes"
K3=$(jq -r .keyId "$MA/hsm/status.json")
echo 1 > "$MA/schedules/tied/run-now"
settle Completed
assert_eq "$(lastrun | jq -r .status)" Completed "the tied schedule runs after the rotation"
sb=$(lastrun | jq -r .backupId)
assert_eq "$(jq -r '[.tiedToHSM, .hsmKeyId] | join(" ")' "$MA/system/backups/$sb/backup.json")" \
	"true $K3" "the scheduled backup is tied to the new key"
rmdir "$MA/schedules/tied"
bk_umount "$MA"
unset BACKUPFS_FAULT_RELEASE

# ---- who may rotate: the owners and admin ----
chmod 755 "$BK_TMP"
for d in $(dirname "$BK_TMP") $(dirname "$(dirname "$BK_TMP")"); do
	chmod o+x "$d"
done
ctl --state "$A" access grant --user nobody --role backup-admin
ctl --state "$A" access grant --user daemon --role admin
bk_mount -o allow_other "$A" "$MA"
asu() { setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups bash -c "$2"; }
assert_eq "$(asu nobody "jq -r .keyId $MA/hsm/status.json")" "$K3" "backup-admin reads hsm/status.json"
assert_fails_with EACCES asu nobody "\"printf '{}' > $MA/hsm/rotate\""
assert_contains "$(jq -r .lastError.message "$MA/status")" "not authorized to rotate or activate the root of trust" "backup-admin: refused, said"
assert_fails_with EACCES asu nobody "\"printf '{\\\"keyId\\\":\\\"$K1\\\"}' > $MA/hsm/activate\""
assert_eq "$(jq -r .keyId "$MA/hsm/status.json")" "$K3" "the refusals changed nothing"
assert_ok asu daemon "printf '{\"keyId\":\"$K1\"}' > $MA/hsm/activate"
assert_eq "$(jq -r .status "$MA/wait")" Completed "admin activates through the mount"
assert_eq "$(jq -r .keyId "$MA/hsm/status.json")" "$K1" "the original key is active again"
assert_eq "$(jq -r 'select(.operation=="hsm.activate") | .uid' "$MA/audit" | tail -1)" "$(id -u daemon)" "the audit names the admin"
bk_umount "$MA"
ctl --state "$A" access revoke --user nobody --role backup-admin
ctl --state "$A" access revoke --user daemon --role admin

# ---- a second appliance on the same token and key: restores ----
assert_ok ctl init "$B" --hsm "pkcs11:token=bk-test;object=rot;id=$(uri_id "$K1")?$Q"
assert_eq "$(ctl --state "$B" hsm status | jq -r .keyId)" "$K1" "B uses the same key"
bk_mount "$B" "$BK_TMP/mb"
MB=$BK_TMP/mb
printf 'hsm test passphrase\n' > "$MB/passphrase"
cp "$BK_TMP/out/$kid.backupkey" "$MB/system/backupkeys/upload/"
cp "$BK_TMP/out/$T.backup" "$MB/system/backups/upload/"
assert_eq "$(cat "$MB/system/backups/$T/status")" "Completed" "uploaded tied backup accepted on B"
assert_eq "$(run "$MB/system/backups/$T/restore" '{}' "$MB")" Completed "tied backup restores on B"
assert_eq "$(count "$B")" "$(sqlite3 "$A/backupfs.db" "SELECT count(*) FROM resources")" "B has A's data"
bk_umount "$MB"

# ---- an appliance without the HSM: refused ----
assert_ok ctl init "$C"
bk_mount "$C" "$BK_TMP/mc"
MC=$BK_TMP/mc
assert_fails_with EINVAL "bk_put '$MC/system/backups/create' '{\"tiedToHSM\":true}'"
assert_contains "$(jq -r .lastError.message "$MC/status")" "needs an HSM root of trust" "tiedToHSM without an HSM: reason"
printf 'hsm test passphrase\n' > "$MC/passphrase"
cp "$BK_TMP/out/$kid.backupkey" "$MC/system/backupkeys/upload/"
cp "$BK_TMP/out/$T.backup" "$MC/system/backups/upload/"
assert_contains "$(cat "$MC/system/backups/$T/status")" "$K1" "upload on C says which key it needs"
before=$(count "$C")
assert_fails_with EINVAL "bk_put '$MC/system/backups/$T/restore' '{}'"
assert_contains "$(jq -r .lastError.message "$MC/status")" "no HSM" "refused on C: no HSM"
assert_eq "$(count "$C")" "$before" "C unchanged"
assert_eq "$(jq -r .kind "$MC/hsm/status.json")" software "hsm/status.json: the software root of trust"
assert_fails_with EINVAL "bk_put '$MC/hsm/rotate' '{}'"
assert_contains "$(jq -r .lastError.message "$MC/status")" "need an HSM" "hsm/rotate on the software root of trust: needs an HSM"
assert_fails_with EINVAL "bk_put '$MC/hsm/activate' '{\"keyId\":\"$K1\"}'"
assert_contains "$(jq -r .lastError.message "$MC/status")" "need an HSM" "hsm/activate likewise"
assert_eq "$(ctl --state "$C" hsm status | jq -r .kind)" software "hsm status works for the software root of trust"
bk_umount "$MC"
err=$(ctl --state "$C" hsm rotate 2>&1) || true
assert_contains "$err" "need an HSM" "hsm rotate on the software root of trust says it needs an HSM"

# ---- HSM-anchored domains ----
printf '4321\n' > "$BK_TMP/pin2"
assert_ok ctl --state "$A" domain create fin --hsm "pkcs11:token=bk-test;object=fin"
assert_ok ctl --state "$A" domain create ext --hsm "pkcs11:token=bk-other;object=ext?module-name=softhsm2&pin-source=$BK_TMP/pin2"
fin_uri=$(ctl --state "$A" domain list | jq -r 'select(.name=="fin") | .hsm')
assert_match "$fin_uri" '^pkcs11:token=bk-test;id=.*object=fin$' "the domain records its key (token, id, label), no PIN"
ctl --state "$A" resource add --domain fin --type keys --name fin-key >/dev/null
ctl --state "$A" resource add --domain ext --type keys --name ext-key >/dev/null
ctl --state "$A" resource add --domain fin --type users --name fin-user >/dev/null
mat() { sqlite3 "$A/backupfs.db" "SELECT hex(material) FROM resources WHERE name = '$1'"; }
fin_mat=$(mat fin-key)
root_mat=$(mat payroll-key)
bk_mount "$A" "$MA"
assert_eq "$(run "$MA/domains/fin/backups/create" '{}' "$MA")" Completed "anchored domain backup"
DF=$(readlink "$MA/domains/fin/backups/latest")
assert_eq "$(jq -r '.hsmDomains.fin' "$MA/domains/fin/backups/$DF/backup.json")" "$fin_uri" "backup.json names the domain's HSM key"
assert_eq "$(run "$MA/system/backups/create" '{}' "$MA")" Completed "system backup with anchored domains"
SA=$(readlink "$MA/system/backups/latest")
assert_eq "$(jq -r '.hsmDomains | keys | join(",")' "$MA/system/backups/$SA/backup.json")" "ext,fin" "it lists both anchored domains"
assert_eq "$(run "$MA/domains/fin/backups/$DF/restore" '{}' "$MA")" Completed "anchored domain backup restores here"
assert_eq "$(run "$MA/system/backups/$SA/restore" '{}' "$MA")" Completed "system backup restores here"
kidd=$(readlink "$MA/domains/fin/backupkeys/default")
cp "$MA/system/backups/$SA/$SA.backup" "$MA/domains/fin/backups/$DF/$DF.backup" "$BK_TMP/out/"
printf 'hsm test passphrase\n' > "$MA/passphrase"
cp "$MA/domains/fin/backupkeys/$kidd/$kidd.backupkey" "$BK_TMP/out/"
bk_umount "$MA"
# Rotation re-wraps the root of trust's secrets, not the anchored ones.
ctl --state "$A" hsm rotate >/dev/null
assert_eq "$(mat fin-key)" "$fin_mat" "anchored material is not under the root of trust (rotation leaves it)"
ok=1; [ "$(mat payroll-key)" = "$root_mat" ] && ok=0
assert_eq "$ok" 1 "the root domain's material was re-wrapped"
ctl --state "$A" hsm activate "$K1" >/dev/null

# On C (no HSM): refused, with the reason, and C unchanged.
ctl --state "$C" domain create fin >/dev/null
bk_mount "$C" "$MC"
printf 'hsm test passphrase\n' > "$MC/passphrase"
cp "$BK_TMP/out/$kidd.backupkey" "$MC/domains/fin/backupkeys/upload/"
cp "$BK_TMP/out/$DF.backup" "$MC/domains/fin/backups/upload/"
cp "$BK_TMP/out/$SA.backup" "$MC/system/backups/upload/"
before=$(sqlite3 "$C/backupfs.db" "SELECT group_concat(name) FROM (SELECT name FROM resources ORDER BY name)")
assert_fails_with EINVAL "bk_put '$MC/domains/fin/backups/$DF/restore' '{}'"
assert_contains "$(jq -r .lastError.message "$MC/status")" "anchored domain fin" "domain restore refused: names the domain"
assert_fails_with EINVAL "bk_put '$MC/system/backups/$SA/restore' '{}'"
msg=$(jq -r .lastError.message "$MC/status")
assert_contains "$msg" "not reachable here" "system restore refused: key not reachable"
assert_eq "$(sqlite3 "$C/backupfs.db" "SELECT group_concat(name) FROM (SELECT name FROM resources ORDER BY name)")" "$before" "C unchanged"
bk_umount "$MC"

# A's other token unreachable (its PIN file gone): A still mounts; the
# domain's secrets and the backups holding it give the reason.
mv "$BK_TMP/pin2" "$BK_TMP/pin2.away"
bk_mount "$A" "$MA"
assert_eq "$(jq -r .hsm.kind "$MA/appliance.json")" pkcs11 "A mounts with a domain's token unreachable"
err=$(ctl --state "$A" resource add --domain ext --type keys --name ext-key-2 2>&1) || true
assert_contains "$err" "domain ext is anchored to an HSM key that is not reachable" "adding a key to it says why"
assert_fails_with EINVAL "bk_put '$MA/system/backups/$SA/restore' '{}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "domain ext" "system restore refused, naming the domain"
assert_eq "$(run "$MA/domains/fin/backups/$DF/restore" '{}' "$MA")" Completed "the other anchored domain still restores"
assert_fails_with EINVAL "bk_put '$MA/system/backups/create' '{}'"
assert_contains "$(jq -r .lastError.message "$MA/status")" "domain ext, whose key" "a system backup is refused, naming the domain"
assert_fails_with EINVAL "bk_put '$MA/domains/ext/backups/create' '{}'"
assert_eq "$(run "$MA/domains/root/backups/create" '{}' "$MA")" Completed "other domains back up"
bk_umount "$MA"
mv "$BK_TMP/pin2.away" "$BK_TMP/pin2"

# ---- kill -9 during a rotation, at several points ----
seq 1 2000 | sed 's/.*/{"domain":"root","type":"keys","name":"many-&"}/' > "$BK_TMP/many.jsonl"
ctl --state "$A" resource import "$BK_TMP/many.jsonl" >/dev/null
# after_kill WHAT POINT KEY-BEFORE: after a kill and a remount, the key
# active is the old one (the new one if killed after the commit), no
# rotation is left pending, and every secret unwraps: a system backup
# unwraps all key material and checks each fingerprint; the backup keys
# unwrap to restore it.
after_kill() {
	local now
	now=$(jq -r .keyId "$MA/hsm/status.json")
	if [ "$2" = hsm.rotate.committed ]; then
		ok=1; [ "$now" = "$3" ] && ok=0
		assert_eq "$ok" 1 "$1 after the commit: the new key is active"
	else
		assert_eq "$now" "$3" "$1 at $2: the old key is still active"
	fi
	assert_eq "$(ctl --state "$A" hsm status | jq -r '[.keys[] | select(.state=="pending")] | length')" 0 "no rotation left pending after $1 at $2"
	assert_eq "$(run "$MA/system/backups/create" '{}' "$MA")" Completed "system backup after $1 at $2"
	L=$(readlink "$MA/system/backups/latest")
	assert_eq "$(run "$MA/system/backups/$L/restore" '{}' "$MA")" Completed "and it restores"
	assert_eq "$(run "$MA/domains/root/backups/create" '{}' "$MA")" Completed "domain backup after $1 at $2"
}
for point in hsm.rotate.generated hsm.rotate.recorded hsm.rotate.rewrap:700 \
	     hsm.rotate.commit hsm.rotate.committed; do
	active=$(ctl --state "$A" hsm status | jq -r .keyId)
	rc=0
	BACKUPFS_FAULT="$point:kill" ctl --state "$A" hsm rotate >/dev/null 2>&1 || rc=$?
	assert_eq "$rc" 137 "rotate killed at $point"
	assert_eq "$(sqlite3 "$A/backupfs.db" 'PRAGMA integrity_check')" ok "database ok after a kill at $point"
	bk_mount "$A" "$MA"
	after_kill "backupctl killed" "$point" "$active"
	bk_umount "$MA"
done
# The daemon killed while it rotates through the mount (in the middle of
# the re-wrapping, and right after the commit): every key still unwraps.
for point in hsm.rotate.rewrap:900 hsm.rotate.committed; do
	active=$(ctl --state "$A" hsm status | jq -r .keyId)
	BACKUPFS_FAULT="$point:kill" bk_mount "$A" "$MA"
	dpid=${BK_MOUNT_PID[$MA]}
	bk_put "$MA/hsm/rotate" '{}' 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	assert_contains "$(bk_log "$MA")" "killed at ${point%%:*}" "daemon killed at $point during a rotation through the mount"
	bk_kill9 "$MA"
	assert_eq "$(sqlite3 "$A/backupfs.db" 'PRAGMA integrity_check')" ok "database ok after the daemon's kill at $point"
	bk_mount "$A" "$MA"
	# The operation is marked Completed in the rotation's transaction.
	if [ "$point" = hsm.rotate.committed ]; then
		assert_eq "$(jq -r '.operation + " " + .status' "$MA/status")" "rotate Completed" "status: the rotation committed before the kill"
	else
		assert_eq "$(jq -r '.operation + ": " + .message' "$MA/status")" "rotate: interrupted: the appliance stopped during the operation" "status: the rotation was interrupted"
	fi
	after_kill "daemon killed" "$point" "$active"
	bk_umount "$MA"
done
# Back to the key the tied backup needs: it restores.
ctl --state "$A" hsm activate "$K1" >/dev/null
bk_mount "$A" "$MA"
assert_eq "$(run "$MA/system/backups/$T/restore" '{}' "$MA")" Completed "tied backup restores after the crashes and activate"

# ---- the token lost while mounted: a clear error, nothing lost ----
before=$(count "$A")
mv "$BK_TMP/tokens" "$BK_TMP/tokens.away"
mkdir "$BK_TMP/tokens"
assert_eq "$(run "$MA/system/backups/create" '{}' "$MA")" Failed "backup with the token gone: Failed"
assert_contains "$(jq -r .message "$MA/status")" "HSM token bk-test was lost" "the reason names the token"
assert_eq "$(run "$MA/system/backups/$T/restore" '{}' "$MA")" Failed "restore with the token gone: Failed"
assert_contains "$(jq -r .message "$MA/status")" "was lost" "with the reason"
assert_eq "$(count "$A")" "$before" "nothing changed"
rmdir "$BK_TMP/tokens"
mv "$BK_TMP/tokens.away" "$BK_TMP/tokens"
bk_umount "$MA"
bk_mount "$A" "$MA"
assert_eq "$(run "$MA/system/backups/create" '{}' "$MA")" Completed "token back, remounted: backups work"
assert_eq "$(run "$MA/system/backups/$T/restore" '{}' "$MA")" Completed "and the tied backup restores"
bk_umount "$MA"

bk_done
