#!/bin/bash
# HSM rotation re-wraps the SCP secrets (issues 4 and 5): on an appliance
# whose root of trust is a key on a SoftHSM token (init --hsm), the SSH key
# pair (made at the first daemon start) and a connection's password are
# wrapped by it (scp_identity.wrapped, scp_connections.password).  After
# `backupctl hsm rotate`, and again after `hsm activate` of the original
# key, both are re-wrapped and still work against a real sshd: a transfer
# with key authentication arrives byte-identical, the `test` of a
# password connection passes, and scp/public-key is unchanged.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root (useradd, sshd)"; exit 0; }
bk_setup
. "$(dirname "$0")/sshd.sh"
. "$(dirname "$0")/softhsm.sh"

bk_softhsm_token bk-scp 1234
printf '1234\n' > "$BK_TMP/pin"
bk_sshd_user
bk_sshd_start

S=$BK_TMP/state
M=$BK_TMP/mnt
C=$M/connections/scp
ctl() { "$BACKUPCTL" --state "$S" "$@"; }
assert_ok "$BACKUPCTL" init "$S" --hsm \
	"pkcs11:token=bk-scp;object=rot?module-name=softhsm2&pin-source=$BK_TMP/pin"
K1=$(ctl hsm status | jq -r .keyId)
assert_eq "$(ctl hsm status | jq -r .kind)" pkcs11 "the root of trust is on the token"

bk_mount "$S" "$M"		# the first start makes the key pair
pub=$(cat "$M/scp/public-key")
assert_match "$pub" '^ssh-ed25519 ' "the appliance has its SSH key"
bk_sshd_authorize "$pub"
assert_ok bk_put "$C/create" "$(conn keyconn)"
assert_ok bk_put "$C/create" "$(conn pwconn ",\"auth_method\":\"password\",\"password\":\"$PW\"")"
echo '{"description":"to send"}' > "$M/system/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
id=$(readlink "$M/system/backups/latest")
B=$M/system/backups/$id
sum=$(sha256sum < "$B/$id.backup")

# The secrets at rest, as stored (hex of the wrapped blobs).
wrapped() {
	sqlite3 "$S/backupfs.db" "SELECT hex(wrapped) FROM scp_identity;
		SELECT hex(password) FROM scp_connections WHERE name = 'pwconn'"
}
# works WHAT: the key and the password still work, the public key is the
# same (on the mount of $S).
works() {
	local x
	assert_eq "$(cat "$M/scp/public-key")" "$pub" "$1: scp/public-key unchanged"
	rm -f "$H/dest/$id.backup"
	x=$(xfer keyconn)
	assert_eq "$(xfer_wait "$x" | jq -r .status)" Completed \
		"$1: a transfer with key authentication completes"
	assert_eq "$(sha256sum < "$H/dest/$id.backup" 2>/dev/null || true)" "$sum" \
		"$1: byte-identical at the destination"
	assert_ok bk_put "$C/pwconn/test" yes
	assert_eq "$(jq -r .lastTest.ok "$C/pwconn/connection.json")" true \
		"$1: the password connection's test passes"
}
works "before rotation"
bk_umount "$M"
before=$(wrapped)
assert_eq "$(wc -l <<<"$before")" 2 "the key pair and the password are stored"

# ---- rotate: a new key on the token, every secret re-wrapped under it ----
K2=$(ctl hsm rotate | jq -r .activeKeyId)
ok=1; [ "$K2" = "$K1" ] || [ -z "$K2" ] && ok=0
assert_eq "$ok" 1 "hsm rotate made a new key active"
rotated=$(wrapped)
assert_eq "$(paste <(echo "$before") <(echo "$rotated") | awk '$1 == $2' | wc -l)" 0 \
	"rotation re-wrapped the SSH key and the password"
bk_mount "$S" "$M"
assert_eq "$(jq -r .hsm.keyId "$M/appliance.json")" "$K2" "mounted under the new key"
works "after hsm rotate"
bk_umount "$M"

# ---- activate the original key: re-wrapped back, still working ----
assert_eq "$(ctl hsm activate "$K1" | jq -r .activeKeyId)" "$K1" "hsm activate of the original key"
assert_eq "$(paste <(echo "$rotated") <(wrapped) | awk '$1 == $2' | wc -l)" 0 \
	"activation re-wrapped them again"
bk_mount "$S" "$M"
assert_eq "$(jq -r .hsm.keyId "$M/appliance.json")" "$K1" "mounted under the original key"
works "after hsm activate"
bk_umount "$M"

bk_done
