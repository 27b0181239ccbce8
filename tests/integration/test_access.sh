#!/bin/bash
# Access control: real unprivileged users (created here, removed by the
# EXIT trap) use a mount made with -o allow_other; a matrix of role x path
# x operation, every cell asserted.  Needs root (useradd, allow_other).
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null ||
   ! command -v setpriv >/dev/null; then
	echo "skipped: needs root, useradd and setpriv"
	exit 0
fi
bk_setup

# names unique to this run: other build directories may run this test at
# the same time
P=bkt-$$-
USERS=(${P}none ${P}adm ${P}fin ${P}fbk)
bkt_users_del() {
	local u
	for u in "${USERS[@]}"; do
		userdel "$u" 2>/dev/null || true
	done
	groupdel ${P}admins 2>/dev/null || true
}
trap 'rc=$?; bkt_users_del; (exit $rc); bk__cleanup' EXIT
groupadd ${P}admins
for u in "${USERS[@]}"; do
	useradd -M -N -g nogroup -s /bin/sh -d /nonexistent "$u"
done
usermod -a -G ${P}admins ${P}adm

# the users must reach the mount point
chmod 755 "$BK_TMP"
d=$(dirname "$BK_TMP")
while [ "$d" != / ]; do
	[ -x "$d" ] && perm=$(stat -c %a "$d") && [ $((0${perm: -1} & 1)) -eq 1 ] || chmod o+x "$d"
	d=$(dirname "$d")
done

S=$BK_TMP/state
M=$BK_TMP/mnt
"$BACKUPCTL" init "$S" --demo >/dev/null
ctl() { "$BACKUPCTL" --state "$S" "$@"; }
ctl access grant --group ${P}admins --role admin
ctl access grant --user ${P}fin --role domain-admin --domain finance
ctl access grant --user ${P}fbk --role domain-backup-admin --domain finance
assert_eq "$(ctl access list | jq -c '[.kind, .name, .role, .domain]' | sort | tr '\n' ' ')" \
	"[\"group\",\"${P}admins\",\"admin\",null] [\"user\",\"${P}fbk\",\"domain-backup-admin\",\"finance\"] [\"user\",\"${P}fin\",\"domain-admin\",\"finance\"] " \
	"access list shows the grants"
assert_status 1 ctl access grant --user ${P}fin --role admin --domain finance
assert_status 1 ctl access grant --user ${P}fin --role domain-admin
assert_status 1 ctl access grant --user ${P}fin --role domain-admin --domain nosuch
assert_status 1 ctl access grant --user ${P}fin --role superuser
assert_status 1 ctl access grant --user no-such-user-bkt --role admin
assert_status 1 ctl access revoke --user ${P}none --role admin

bk_mount -o allow_other "$S" "$M"
F=$M/domains/finance

# as USER CMD...: CMD (a shell command) run by USER with its groups
as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups \
		bash -c "$*"
}

# newbackup DOMAIN-DIR: a backup made by root; prints its id
newbackup() {
	printf '{}' > "$1/backups/create"
	cat "$M/wait" > /dev/null
	jq -r .backupId < "$M/status"
}
printf '{"name":"finance-default","default":true}' > "$F/backupkeys/create"
fin1=$(newbackup "$F")
fin2=$(newbackup "$F")
assert_eq "$(cat "$F/backups/$fin1/status")" Completed "root makes finance backups"

# cell USER WHAT EXPECT CMD: EXPECT is ok or an errno name
cell() {
	local u=$1 what=$2 want=$3 cmd=$4
	if [ "$want" = ok ]; then
		local out rc=0
		out=$(as "$u" "$cmd" 2>&1) || rc=$?
		if [ "$rc" -eq 0 ]; then
			pass "$u: $what"
		else
			fail "$u: $what: exited $rc: $out"
		fi
		cat "$M/wait" > /dev/null	# let what it started finish
	else
		assert_fails_with "$want" as "$u" "\"$cmd\""
	fi
}

# listings: exact names
ls_as() { as "$1" "ls $2" 2>&1 | tr '\n' ' '; }

# ---- no role: an empty tree, EACCES on anything below it ----
u=${P}none
assert_eq "$(ls_as $u "$M")" "" "$u: the root lists nothing"
cell $u "list system/backups" EACCES "ls $M/system/backups"
cell $u "write system/backups/create" EACCES "printf '{}' > $M/system/backups/create"
cell $u "list domains" EACCES "ls $M/domains"
cell $u "write finance create" EACCES "printf '{}' > $F/backups/create"
cell $u "write finance restore" EACCES "printf '{}' > $F/backups/$fin1/restore"
cell $u "write root create" EACCES "printf '{}' > $M/domains/root/backups/create"
cell $u "write system backupkeys/create" EACCES "printf '{}' > $M/system/backupkeys/create"
cell $u "read finance resources" EACCES "ls $F/resources/keys"
cell $u "rmdir a finance backup" EACCES "rmdir $F/backups/$fin1"
cell $u "read status" EACCES "cat $M/status"
cell $u "a path that does not exist (same answer)" EACCES "ls $M/system/no-such-thing"
# creating a name outside an upload box is EACCES, hidden or not
cell $u "set a passphrase" EACCES "echo x > $M/passphrase"

# ---- admin (through a group): system, root domain; sees all domains ----
u=${P}adm
assert_eq "$(ls_as $u "$M")" "README appliance.json audit connections domains hsm passphrase schedules scp status system wait " "$u: the root lists everything"
# admin may rotate the root of trust: here a software one, so EINVAL
cell $u "read hsm/status.json" ok "jq -e '.kind == \"software\"' $M/hsm/status.json"
cell $u "write hsm/rotate (software root of trust)" EINVAL "printf '{}' > $M/hsm/rotate"
assert_contains "$(jq -r .lastError.message < "$M/status")" "need an HSM" "$u: the refusal says it needs an HSM"
assert_contains "$(ls_as $u "$M/system/backups")" "create" "$u: list system/backups"
cell $u "write system/backups/create" ok "printf '{}' > $M/system/backups/create"
assert_eq "$(ls_as $u "$M/domains")" "finance hr root " "$u: list domains (all)"
cell $u "write finance create" EACCES "printf '{}' > $F/backups/create"
assert_contains "$(jq -r .lastError.message < "$M/status")" "not authorized" "the refusal is lastError"
cell $u "write finance restore" EACCES "printf '{}' > $F/backups/$fin1/restore"
cell $u "write root create" ok "printf '{}' > $M/domains/root/backups/create"
cell $u "write system backupkeys/create" ok "printf '{\"name\":\"adm\"}' > $M/system/backupkeys/create"
cell $u "read finance resources" ok "ls $F/resources/keys | grep -q ."
cell $u "rmdir a finance backup" EACCES "rmdir $F/backups/$fin1"
cell $u "upload into finance" EACCES "cp $F/backups/$fin1/$fin1.backup $F/backups/upload/"

# ---- domain-admin of finance: finance only, everything there ----
u=${P}fin
assert_eq "$(ls_as $u "$M")" "README appliance.json domains passphrase status wait " "$u: the root hides system/"
cell $u "list system/backups" ENOENT "ls $M/system/backups"
cell $u "write system/backups/create" ENOENT "printf '{}' > $M/system/backups/create"
cell $u "write hsm/rotate" ENOENT "printf '{}' > $M/hsm/rotate"
assert_eq "$(ls_as $u "$M/domains")" "finance " "$u: list domains (finance only)"
cell $u "stat domains/hr" ENOENT "stat $M/domains/hr"
cell $u "write finance create" ok "printf '{}' > $F/backups/create"
cell $u "write finance restore" ok "printf '{}' > $F/backups/$fin1/restore"
assert_eq "$(jq -r '.operation + " " + .status' < "$M/status")" "restore Completed" "$u: the restore ran"
cell $u "write root create" ENOENT "printf '{}' > $M/domains/root/backups/create"
cell $u "write system backupkeys/create" ENOENT "printf '{}' > $M/system/backupkeys/create"
cell $u "write finance backupkeys/create" ok "printf '{\"name\":\"fin\"}' > $F/backupkeys/create"
cell $u "read finance resources" ok "ls $F/resources/keys | grep -q ."
cell $u "rmdir a finance backup" ok "rmdir $F/backups/$fin2"
[ -e "$F/backups/$fin2" ] && fail "$fin2 still there" || pass "$u: rmdir deleted $fin2"
# the finance key export: with fin's own passphrase only
fkey=$(readlink "$F/backupkeys/default")
cell $u "read a key export without a passphrase" EACCES "cat $F/backupkeys/$fkey/$fkey.backupkey"
cell $u "set a passphrase" ok "echo 'fin passphrase' > $M/passphrase"
cell $u "read a key export" ok "cat $F/backupkeys/$fkey/$fkey.backupkey > /dev/null"
cell $u "read an archive" ok "cat $F/backups/$fin1/$fin1.backup > /dev/null"

# ---- domain-backup-admin of finance: see and back up finance, no more ----
u=${P}fbk
assert_eq "$(ls_as $u "$M")" "README appliance.json domains passphrase status wait " "$u: the root hides system/"
cell $u "list system/backups" ENOENT "ls $M/system/backups"
cell $u "write system/backups/create" ENOENT "printf '{}' > $M/system/backups/create"
assert_eq "$(ls_as $u "$M/domains")" "finance " "$u: list domains (finance only)"
assert_eq "$(ls_as $u "$F")" "backupkeys backups " "$u: finance hides resources/"
cell $u "write finance create" ok "printf '{}' > $F/backups/create"
cell $u "write finance restore" EACCES "printf '{}' > $F/backups/$fin1/restore"
cell $u "write root create" ENOENT "printf '{}' > $M/domains/root/backups/create"
cell $u "write system backupkeys/create" ENOENT "printf '{}' > $M/system/backupkeys/create"
cell $u "write finance backupkeys/create" EACCES "printf '{}' > $F/backupkeys/create"
cell $u "read finance resources" ENOENT "ls $F/resources/keys"
cell $u "rmdir a finance backup" EACCES "rmdir $F/backups/$fin1"
cell $u "upload into finance restore/" EACCES "cp $F/backups/$fin1/$fin1.backup $F/backups/restore/"
cell $u "set a passphrase" ok "echo 'fbk passphrase' > $M/passphrase"
cell $u "read a key export" EACCES "cat $F/backupkeys/$fkey/$fkey.backupkey"

# ---- passphrases are per uid: fin's is no use to the admin ----
cell ${P}adm "read a system key export with another uid's passphrase set" EACCES \
	"cat $M/system/backupkeys/\$(readlink $M/system/backupkeys/default)/\$(readlink $M/system/backupkeys/default).backupkey"

# ---- every refusal is audited; revoking takes effect at once ----
n=$(sqlite3 "$S/backupfs.db" "SELECT COUNT(*) FROM audit WHERE action = 'refused' AND result = 'EACCES'" 2>/dev/null || echo 0)
[ "$n" -ge 8 ] && pass "refusals are in the audit trail ($n)" || fail "only $n EACCES refusals audited"
ctl access revoke --user ${P}fin --role domain-admin --domain finance
cell ${P}fin "list domains after revoke (no role left)" EACCES "ls $M/domains"
assert_eq "$(ls_as ${P}fin "$M")" "" "${P}fin: the root lists nothing after revoke"

bk_umount "$M"
bk_done
