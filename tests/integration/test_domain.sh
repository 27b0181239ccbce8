#!/bin/bash
# Domain-scoped backups: the seed's filter examples, restore into other
# domains of this and of another appliance, the merge strategies, and bad
# input.  Each example's archive content is asserted by restoring it into
# an empty domain and listing that domain's resources.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"
bk_setup

A=$BK_TMP/a
B=$BK_TMP/b
PASS='domain test passphrase'
mkdir -p "$BK_TMP/out" "$A" "$B"
"$BACKUPCTL" init "$A/state" --demo >/dev/null
"$BACKUPCTL" init "$B/state" >/dev/null
bk_mount "$A/state" "$A/mnt"
bk_mount "$B/state" "$B/mnt"
printf '%s\n' "$PASS" > "$A/mnt/passphrase"
printf '%s\n' "$PASS" > "$B/mnt/passphrase"
AR=$A/mnt/domains/root
kid=$(readlink "$AR/backupkeys/default")
cp "$AR/backupkeys/$kid/$kid.backupkey" "$BK_TMP/out/root.backupkey"

# resources of a domain as "type/name" lines
listing() {
	(cd "$1/resources" && for t in *; do for f in "$t"/*.json; do
		if [ -e "$f" ]; then echo "${f%.json}"; fi; done; done) | sort | tr '\n' ' '
}

# backup FILTERS: a domain backup of A's root, copied out to $ARCH
backup() {
	local id
	echo "{\"description\":\"t\",\"filters\":$1}" > "$AR/backups/create"
	cat "$A/mnt/wait" > /dev/null
	id=$(jq -r .backupId < "$A/mnt/status")
	assert_eq "$(cat "$AR/backups/$id/status")" "Completed" "backup $1 completes"
	cp "$AR/backups/$id/$id.backup" "$BK_TMP/out/"
	ARCH=$BK_TMP/out/$id.backup
}

# restore_into MNT DOMAIN ARCHIVE: uploads the key and the archive into
# DOMAIN (created if missing) and restores; prints the final status.
n=0
restore_into() {
	local m=$1 d=$2 f=$3 id
	[ -d "$m/domains/$d" ] || "$BACKUPCTL" --state "$(dirname "$m")/state" domain create "$d" >/dev/null
	cp "$BK_TMP/out/root.backupkey" "$m/domains/$d/backupkeys/upload/"
	cp "$f" "$m/domains/$d/backups/upload/"
	id=$("$BACKUPCTL" inspect "$f" | jq -r .id)
	echo '{}' > "$m/domains/$d/backups/$id/restore"
	cat "$m/wait"
}

# example FILTERS EXPECTED WHAT
example() {
	n=$((n + 1))
	backup "$1"
	restore_into "$B/mnt" "ex$n" "$ARCH" > /dev/null
	assert_eq "$(listing "$B/mnt/domains/ex$n")" "$2" "$3"
}

example '[{"resourceType":"Keys","resourceQuery":{"labels":{"app":"cte"}}},{"resourceType":"cte_policies"}]' \
	"cte_policies/ldt-policy cte_policies/standard-policy keys/cte-key-1 keys/cte-key-2 " \
	"example 1: all CTE keys and CTE policies (with the keys the policies use)"
example '[{"resourceType":"cte_policies"}]' \
	"cte_policies/ldt-policy cte_policies/standard-policy " \
	"example 2: all CTE policies, without keys"
example '[{"resourceType":"cte_policies","resourceQuery":{"policy_type":"Standard"}}]' \
	"cte_policies/standard-policy " \
	"example 3: only Standard CTE policies"
example '[{"resourceType":"users_groups"}]' \
	"groups/key-admins users/alice users/frank " \
	"example 4: all users and groups"
example '[{"resourceType":"users_groups","resourceQuery":{"name":"frank","email":"frank@local"}}]' \
	"groups/key-admins users/frank " \
	"example 4b: the user frank with email frank@local, and his groups"
example '[{"resourceType":"Keys","resourceQuery":{"names":["payroll-key","hmac-key"]}}]' \
	"keys/hmac-key keys/payroll-key " \
	"example 5: individual keys by name"
example '[{"resourceType":"KEYS","resourceQuery":{"name":"cte*","algorithm":"aes"}},{"resourceType":"customer_fragments"}]' \
	"customer_fragments/fragment-1 keys/cte-key-1 keys/cte-key-2 " \
	"glob name AND algorithm, ORed with another type"
example '[]' \
	"$(listing "$AR")" \
	"no filters: the whole domain"

# --- restore into another domain of the same appliance ---
backup '[{"resourceType":"Keys"}]'; full=$ARCH
st=$(restore_into "$A/mnt" copy "$full")
assert_contains "$st" '"Completed"' "restore into another domain of the same appliance"
assert_eq "$(listing "$A/mnt/domains/copy")" "$(listing "$AR" | tr ' ' '\n' | grep '^keys/' | tr '\n' ' ')" "all keys copied"
assert_eq "$(jq -r .domain "$A/mnt/domains/copy/backups/$(basename "$full" .backup)/backup.json")" "copy" "the uploaded backup belongs to the domain it was dropped into"
idr=$(jq -r .id "$AR/resources/keys/payroll-key.json")
idc=$(jq -r .id "$A/mnt/domains/copy/resources/keys/payroll-key.json")
assert_eq "$([ "$idr" != "$idc" ] && echo different)" "different" "a copy in another domain gets its own id"
assert_eq "$(jq -r .fingerprint "$A/mnt/domains/copy/resources/keys/payroll-key.json")" \
	"$(jq -r .fingerprint "$AR/resources/keys/payroll-key.json")" "same key material"
report="$A/mnt/domains/copy/backups/$(basename "$full" .backup)/restore-report.json"
assert_eq "$(jq -r .report.keys.restored "$report")" "5" "restore-report.json counts the restored keys"

# --- skip strategy and the membership rules (appliance B, domain m) ---
"$BACKUPCTL" --state "$B/state" domain create m >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain m --type users --name frank --attrs '{"email":"frank@b"}' >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain m --type users --name zed >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain m --type groups --name key-admins --attrs '{"members":["zed"]}' >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain m --type cte_policies --name standard-policy --attrs '{"policy_type":"LDT"}' >/dev/null
backup '[{"resourceType":"users_groups"},{"resourceType":"cte_policies"},{"resourceType":"customer_fragments"}]'; ug=$ARCH
st=$(restore_into "$B/mnt" m "$ug")
assert_contains "$st" '"Completed"' "merge restore completes"
BM=$B/mnt/domains/m/resources
assert_eq "$(jq -r .attrs.email "$BM/users/frank.json")" "frank@b" "existing user kept (source user skipped)"
assert_ok test -f "$BM/users/alice.json"
assert_eq "$(jq -c .members "$BM/groups/key-admins.json")" '["zed"]' "existing group kept, restored users not added to it"
assert_eq "$(jq -r .attrs.policy_type "$BM/cte_policies/standard-policy.json")" "LDT" "existing CTE policy skipped"
assert_ok test -f "$BM/cte_policies/ldt-policy.json"
assert_ok test -f "$BM/customer_fragments/fragment-1.json"
rep="$B/mnt/domains/m/backups/$(basename "$ug" .backup)/restore-report.json"
assert_contains "$(jq -c .report.users.skippedNames "$rep")" "frank" "report names the skipped user"
assert_contains "$(jq -c .report.groups.skippedNames "$rep")" "key-admins" "report names the skipped group"

# user exists, its group does not: the group is restored without the user
"$BACKUPCTL" --state "$B/state" domain create m2 >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain m2 --type users --name frank >/dev/null
st=$(restore_into "$B/mnt" m2 "$ug")
assert_ok test -f "$B/mnt/domains/m2/resources/groups/key-admins.json"
assert_eq "$(jq -c .members "$B/mnt/domains/m2/resources/groups/key-admins.json")" '["alice"]' "existing user not added to the restored group"

# --- error strategy: a key with the same name and version, another id ---
"$BACKUPCTL" --state "$B/state" domain create kc >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain kc --type keys --name payroll-key >/dev/null
"$BACKUPCTL" --state "$B/state" resource add --domain kc --type users --name bystander >/dev/null
before=$(cd "$B/mnt/domains/kc/resources" && find . -type f | sort | xargs cat | sha256sum)
backup '[{"resourceType":"Keys"},{"resourceType":"users_groups"}]'; keys=$ARCH
st=$(restore_into "$B/mnt" kc "$keys")
assert_contains "$st" '"Failed"' "key conflict fails the restore"
assert_contains "$st" "Error copying data from backup database" "with the seed's message"
assert_eq "$(cd "$B/mnt/domains/kc/resources" && find . -type f | sort | xargs cat | sha256sum)" "$before" "target domain unchanged"
rep="$B/mnt/domains/kc/backups/$(basename "$keys" .backup)/restore-report.json"
assert_contains "$(jq -c .report.keys.conflictNames "$rep")" "payroll-key" "report names the conflicting key"
# the same backup again into the domain it came from: same ids, kept
id=$(basename "$keys" .backup)
echo '{}' > "$AR/backups/$id/restore"
assert_contains "$(cat "$A/mnt/wait")" '"Completed"' "restoring onto the same keys (same ids) succeeds"
assert_eq "$(jq -r .report.keys.skipped "$AR/backups/$id/restore-report.json")" "$(ls "$AR/resources/keys" | wc -l)" "same-id keys are kept"

# --- bad input ---
assert_fails_with EINVAL "echo '{\"filters\":\"keys\"}' > '$AR/backups/create'"
assert_fails_with EINVAL "echo '{\"filters\":[{\"resourceType\":\"certs\"}]}' > '$AR/backups/create'"
assert_contains "$(jq -r .lastError.message < "$A/mnt/status")" "cte_policies" "reason names the valid types"
assert_fails_with EINVAL "echo '{\"filters\":[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"colour\":\"red\"}}]}' > '$AR/backups/create'"
assert_contains "$(jq -r .lastError.message < "$A/mnt/status")" "colour" "reason names the unknown field"
assert_fails_with EINVAL "echo '{\"filters\":[{\"resourceType\":\"Keys\",\"resourceQuery\":{\"names\":\"k\"}}]}' > '$AR/backups/create'"
assert_fails_with EINVAL "bk_put '$AR/backups/create' '{\"filters\":[{\"resourceType\":\"Keys\"}'"
skey=$(readlink "$A/mnt/system/backupkeys/default")
assert_fails_with EINVAL "echo '{\"backupKey\":\"$skey\"}' > '$AR/backups/create'"
assert_fails_with EINVAL "echo '{\"tiedToHSM\":true}' > '$AR/backups/create'"
assert_fails_with EINVAL cp "$keys" "$B/mnt/system/backups/upload/"
assert_contains "$(jq -r .lastError.message < "$B/mnt/status")" "domain" "reason: it is a domain backup"
"$BACKUPCTL" --state "$B/state" domain create nokey >/dev/null
cp "$keys" "$B/mnt/domains/nokey/backups/upload/"
assert_fails_with EINVAL "echo '{}' > '$B/mnt/domains/nokey/backups/$(basename "$keys" .backup)/restore'"
assert_contains "$(jq -r .lastError.message < "$B/mnt/status")" "backupkeys/upload" "reason: upload the domain key"

bk_done
