#!/bin/bash
# SCP/SFTP transfers of system backups (issue 5), against a real
# openssh-server started here on 127.0.0.1 with its own sshd_config, host
# key and port, and a test user made with useradd (removed at exit):
# the appliance's key pair (public-key, rotate), connections (create,
# connection.json, test, rmdir), transfers over SFTP and SCP with key and
# password authentication, a pinned host key that does not match, a
# closed port, a destination without permission and one without space
# (a small tmpfs), rotation making the old key fail, and a 256 MiB archive
# copied while other files of the mount keep reading, arriving
# byte-identical and never partial under its final name.
set -euo pipefail
BACKUPFS=$1
BACKUPCTL=$2
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: needs root (useradd, a tmpfs mount, sshd)"
	exit 0
fi
bk_setup

. "$(dirname "$0")/sshd.sh"
SMALL=$BK_TMP/small
bk_sshd_more_cleanup() {
	mountpoint -q "$SMALL" 2>/dev/null && umount -l "$SMALL"
	userdel -f "${U}d" 2>/dev/null
}

# ---- the destination: a user, its directories, sshd ----
bk_sshd_user
useradd -M -N -g nogroup -d /nonexistent -s /bin/sh "${U}d"
mkdir -p "$H/ro" "$SMALL"
chown root: "$H/ro"			# the user may not write here
mount -t tmpfs -o size=16k,mode=0755 tmpfs "$SMALL"
chown "$U:" "$SMALL"
bk_sshd_start
CLOSED=$(bk_closed_port)

# ---- the appliance ----
S=$BK_TMP/state
M=$BK_TMP/mnt
"$BACKUPCTL" init "$S" --demo >/dev/null
# enough data for an archive larger than the full destination (16 KiB)
seq 1 2000 | sed 's/.*/{"domain":"root","type":"users","name":"u-&"}/' |
	"$BACKUPCTL" --state "$S" resource import - >/dev/null
export BACKUPFS_CLOCK=$BK_TMP/clock	# the schedules' clock (docs/TESTING.md)
clock() { echo "$1" > "$BACKUPFS_CLOCK"; }
clock 2030-01-01T00:00:30Z
bk_mount -o allow_other "$S" "$M"
C=$M/connections/scp

pub=$(cat "$M/scp/public-key")
assert_match "$pub" '^ssh-ed25519 [A-Za-z0-9+/=]+ backupfs$' "public-key is an authorized_keys line"
bk_sshd_authorize "$pub"
assert_eq "$(cat "$M/scp/public-key")" "$pub" "public-key is stable"
assert_eq "$(sqlite3 "$S/backupfs.db" "SELECT count(*) FROM scp_identity WHERE instr(CAST(wrapped AS TEXT), 'OPENSSH') = 0")" 1 \
	"the private key is stored wrapped"
if grep -rqa "BEGIN OPENSSH PRIVATE KEY" "$S"; then
	fail "a private key in clear in the state directory"
else
	pass "no private key in clear in the state directory"
fi

# ---- connections: validation ----
bad() {		# WHAT JSON WORDS
	assert_fails_with EINVAL "bk_put '$C/create' '$2'"
	assert_contains "$(jq -r .lastError.message "$M/status")" "$3" "$1: reason"
}
bad "unknown field" "$(conn x ',"colour":"red"')" 'unknown field "colour"'
bad "port as a string" "$(conn x | sed 's/"port":[0-9]*/"port":"22"/')" '"port" must be an integer'
bad "port out of range" "$(conn x | sed 's/"port":[0-9]*/"port":70000/')" '"port" must be 1 to 65535'
bad "missing host" "$(conn x | sed 's/"host":"127.0.0.1",//')" '"host" is required'
bad "bad auth_method" "$(conn x ',"auth_method":"magic"')" '"auth_method" must be "key" or "password"'
bad "bad protocol" "$(conn x ',"protocol":"ftp"')" '"protocol" must be "sftp" or "scp"'
bad "password without its method" "$(conn x ',"password":"p"')" 'only for auth_method "password"'
bad "password method without one" "$(conn x ',"auth_method":"password"')" '"password" is required'
bad "not a host key" "$(conn x | sed 's/"public_key":"[^"]*"/"public_key":"hello"/')" "SSH host key"
bad "bad name" "$(conn .x)" '"name" must be'
assert_eq "$(ls "$C")" "create" "refused requests created nothing"

# ---- connections: create, read, test, delete ----
assert_ok bk_put "$C/create" "$(conn keyconn)"
assert_fails_with EEXIST "bk_put '$C/create' '$(conn keyconn)'"
assert_ok bk_put "$C/create" "$(conn pwconn ",\"auth_method\":\"password\",\"password\":\"$PW\"")"
assert_ok bk_put "$C/create" "$(conn scpconn ',"protocol":"scp"')"
assert_ok bk_put "$C/create" "$(conn scppw ",\"protocol\":\"scp\",\"auth_method\":\"password\",\"password\":\"$PW\"")"
assert_ok bk_put "$C/create" "$(conn mismatch | sed "s|$HOSTKEY|$OTHERKEY|")"
assert_ok bk_put "$C/create" "$(conn closed | sed "s/\"port\":$PORT/\"port\":$CLOSED/")"
assert_ok bk_put "$C/create" "$(conn ro | sed "s|$H/dest|$H/ro|")"
assert_ok bk_put "$C/create" "$(conn scpro ',"protocol":"scp"' | sed "s|$H/dest|$H/ro|")"
assert_ok bk_put "$C/create" "$(conn small | sed "s|$H/dest|$SMALL|")"
assert_ok bk_put "$C/create" "$(conn scpsmall ',"protocol":"scp"' | sed "s|$H/dest|$SMALL|")"
assert_ok bk_put "$C/create" "$(conn scpfill ',"protocol":"scp"' | sed -e "s|$H/dest|$SMALL|" \
	-e "s/\"port\":$PORT/\"port\":$((PORT + 1))/")"
assert_ok bk_put "$C/create" "$(conn sftpfill | sed -e "s|$H/dest|$SMALL|" \
	-e "s/\"port\":$PORT/\"port\":$((PORT + 2))/")"
j=$(cat "$C/pwconn/connection.json")
assert_eq "$(jq -r '.host, .port, .username, .auth_method, .protocol' <<<"$j" | tr '\n' ' ')" \
	"127.0.0.1 $PORT $U password sftp " "connection.json has the fields"
assert_eq "$(jq -r 'has("password")' <<<"$j")" false "connection.json never shows the password"
if grep -rqa -- "$PW" "$S"; then
	fail "the password is in clear in the state directory"
else
	pass "the password is not in clear in the state directory"
fi

assert_ok bk_put "$C/keyconn/test" yes
assert_eq "$(jq -r .lastTest.ok "$C/keyconn/connection.json")" true "test of keyconn passed"
assert_ok bk_put "$C/pwconn/test" yes
assert_ok bk_put "$C/scpconn/test" yes
assert_ok bk_put "$C/scppw/test" yes
assert_eq "$(ls -A "$H/dest")" "" "tests leave nothing at the destination"
testfail() {	# NAME ERRNO WORDS
	assert_fails_with "$2" "bk_put '$C/$1/test' yes"
	assert_eq "$(jq -r .lastTest.ok "$C/$1/connection.json")" false "test of $1 failed"
	assert_contains "$(jq -r .lastTest.reason "$C/$1/connection.json")" "$3" "test of $1: reason"
}
testfail mismatch EKEYREJECTED "host key mismatch"
testfail closed EHOSTUNREACH "cannot reach 127.0.0.1 port $CLOSED"
testfail ro EACCES "no permission to write in $H/ro"

mkdir "$C/tmp" 2>/dev/null && fail "mkdir in connections/scp succeeded" || pass "mkdir in connections/scp refused"
assert_ok bk_put "$C/create" "$(conn gone)"
assert_ok rmdir "$C/gone"
assert_eq "$(ls "$C" | grep -c '^gone$' || true)" 0 "rmdir deleted the connection"

# ---- transfers ----
echo '{"description":"to send"}' > "$M/system/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
id=$(readlink "$M/system/backups/latest")
B=$M/system/backups/$id
sum=$(sha256sum < "$B/$id.backup")

sent() {	# CONN WHAT
	local x j
	rm -f "$H/dest/$id.backup"
	x=$(xfer "$1")
	j=$(xfer_wait "$x")
	assert_eq "$(jq -r .status <<<"$j")" Completed "$2: Completed"
	assert_eq "$(jq -r '.bytes == .total and .total > 0' <<<"$j")" true "$2: all bytes"
	assert_eq "$(sha256sum < "$H/dest/$id.backup")" "$sum" "$2: byte-identical at the destination"
	assert_eq "$(ls -A "$H/dest")" "$id.backup" "$2: no temporary file left"
}
sent keyconn "SFTP, key"
sent pwconn "SFTP, password"
sent scpconn "SCP, key"
sent scppw "SCP, password"
sent keyconn "SFTP over an existing copy"
x=$(xfer keyconn)
j=$(xfer_wait "$x")
assert_eq "$(jq -r .status <<<"$j")" Completed "a second copy replaces the first"
# the audit trail: the transfer's start and end, connections
r=$(jq -c "select(.operation == \"scp\" and .ids.transferId == \"$x\")" "$M/audit")
assert_eq "$(jq -r .result <<<"$r" | tr '\n' ' ')" "started Completed " "audit: the transfer's start and end"
assert_eq "$(jq -r '[.scope, .ids.backupId, .ids.connection, .uid] | join(" ")' <<<"$r" | sort -u)" \
	"system $id keyconn 0" "audit: scope, backup, connection and uid of the transfer"
au() { jq -c "select(.operation == \"$1\" and .ids.target == \"$2\")" "$M/audit" | tail -1; }
assert_eq "$(au connection-create keyconn | jq -r .result)" Completed "audit: connection-create"
assert_eq "$(au connection-delete gone | jq -r .result)" Completed "audit: connection-delete"
assert_eq "$(au connection-test keyconn | jq -r .result)" Completed "audit: connection-test"
assert_contains "$(au connection-test mismatch | jq -r '.result + ": " + .reason')" \
	"Failed: host key mismatch" "audit: a failed connection-test with its reason"

failed() {	# CONN WORDS WHAT
	local x j
	x=$(xfer "$1")
	j=$(xfer_wait "$x")
	assert_eq "$(jq -r .status <<<"$j")" Failed "$3: Failed"
	assert_contains "$(jq -r .reason <<<"$j")" "$2" "$3: reason"
	echo "# $3: $(jq -r .reason <<<"$j")"
}
failed mismatch "host key mismatch" "pinned host key mismatch"
failed closed "cannot reach" "closed port"
failed ro "no permission to write in $H/ro" "read-only destination"
failed scpro "no permission to write in $H/ro" "SCP to a read-only destination"
assert_eq "$(ls -A "$H/ro")" "" "nothing left in the read-only destination"
failed small "space" "SFTP to a full destination"
failed scpsmall "space" "SCP to a full destination"
failed scpfill "the copy at the destination is incomplete" "SCP to a destination that fills up"
failed sftpfill "cannot write $SMALL/.$id.backup" "SFTP to a destination that fills up"
assert_eq "$(ls -A "$SMALL")" "" "nothing left in the full destination"

# Inline fields, and requests that are refused.
before=$(ls "$B/scp-status" | wc -l)
assert_ok bk_put "$B/scp" "$(conn x | sed 's/"name":"x",//')"
assert_fails_with EINVAL "bk_put '$B/scp' '{\"connection\":\"nosuch\"}'"
assert_contains "$(jq -r .lastError.message "$M/status")" "connection nosuch does not exist" "unknown connection: reason"
assert_fails_with EINVAL "bk_put '$B/scp' '{\"connection\":\"keyconn\",\"port\":22}'"
assert_fails_with EINVAL "bk_put '$B/scp' '{}'"
dom=root
echo '{}' > "$M/domains/$dom/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
did=$(readlink "$M/domains/$dom/backups/latest")
assert_fails_with EINVAL "bk_put '$M/domains/$dom/backups/$did/scp' '{\"connection\":\"keyconn\"}'"
assert_contains "$(jq -r .lastError.message "$M/status")" "SCP transfers system backups only" "domain backup: reason"
assert_eq "$(ls "$B/scp-status" | wc -l)" "$((before + 1))" "refused transfers left no record"

# ---- backupctl scp and backupctl connection ----
ctl() { "$BACKUPCTL" --state "$S" "$@"; }
assert_eq "$(ctl scp public-key)" "$pub" "backupctl scp public-key"
conn clipw ",\"auth_method\":\"password\",\"password\":\"$PW\"" | assert_ok ctl connection add -
assert_eq "$(jq -r .auth_method "$C/clipw/connection.json")" password "backupctl connection add: in the mount"
assert_eq "$(ctl connection list | jq -r .name | tr '\n' ' ')" \
	"clipw closed keyconn mismatch pwconn ro scpconn scpfill scppw scpro scpsmall sftpfill small " "backupctl connection list"
assert_eq "$(ctl connection show clipw | jq -r 'has("password")')" false "backupctl connection show: no password"
assert_ok ctl connection test clipw
assert_status 1 ctl connection test closed
rm -f "$H/dest/$id.backup"
assert_ok ctl scp send "$id" '{"connection":"clipw"}'
assert_eq "$(sha256sum < "$H/dest/$id.backup")" "$sum" "backupctl scp send: byte-identical"
assert_status 1 ctl scp send "$id" '{"connection":"closed"}'
assert_eq "$(ctl scp status "$id" | jq -r .status | sort | uniq -c | awk '{print $2 $3 "=" $1}' | tr '\n' ' ')" \
	"$(ls "$B/scp-status" | while read -r f; do jq -r .status "$B/scp-status/$f"; done | sort | uniq -c | awk '{print $2 $3 "=" $1}' | tr '\n' ' ')" \
	"backupctl scp status lists what scp-status/ holds"
assert_ok ctl connection delete clipw
assert_status 1 ctl connection delete clipw
assert_status 2 ctl connection frobnicate

# ---- access: backup-admin may transfer, not manage; others do not see ----
as() {	# USER COMMAND: COMMAND (a shell command) run by USER
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups bash -c "$*"
}
"$BACKUPCTL" --state "$S" access grant --user "$U" --role backup-admin
"$BACKUPCTL" --state "$S" access grant --user "${U}d" --role domain-admin --domain root
assert_eq "$(as "$U" cat "$M/scp/public-key")" "$pub" "backup-admin reads public-key"
assert_fails_with EACCES "as $U \"printf '{}' | cat > $C/create\""
assert_contains "$(jq -r .lastError.message "$M/status")" "not authorized to manage connections" "backup-admin: create refused"
assert_fails_with EACCES "as $U \"echo yes | cat > $M/scp/rotate\""
assert_fails_with EACCES "as $U \"echo yes | cat > $C/keyconn/test\""
assert_fails_with EACCES "as $U rmdir $C/keyconn"
assert_eq "$(cat "$M/scp/public-key")" "$pub" "refused rotation changed nothing"
n=$(ls "$B/scp-status" | wc -l)
assert_ok as "$U" "printf '{\"connection\":\"keyconn\"}' | cat > $B/scp"
assert_eq "$(ls "$B/scp-status" | wc -l)" "$((n + 1))" "backup-admin starts a transfer"
assert_eq "$(as "${U}d" ls "$M" | grep -c -e '^scp$' -e '^connections$' || true)" 0 \
	"domain-admin does not see scp/ nor connections/"
assert_fails_with ENOENT "as ${U}d cat $M/scp/public-key"
"$BACKUPCTL" --state "$S" access revoke --user "$U" --role backup-admin
"$BACKUPCTL" --state "$S" access revoke --user "${U}d" --role domain-admin --domain root

# ---- rotation: the old key stops working ----
assert_ok bk_put "$M/scp/rotate" yes
new=$(cat "$M/scp/public-key")
[ "$new" != "$pub" ] && pass "rotate made a new key" || fail "rotate kept the key"
assert_eq "$(jq -c 'select(.operation == "scp-rotate") | [.uid, .result]' "$M/audit" | tail -1)" \
	'[0,"Completed"]' "audit: scp-rotate"
assert_contains "$(jq -c 'select(.operation == "refused" and .ids.path == "/scp/rotate") | .reason' "$M/audit" | tail -1)" \
	"not authorized" "audit: a refused scp-rotate"
failed keyconn "authentication failed" "the old key after rotation"
testfail keyconn EACCES "refused the appliance's key"
bk_sshd_authorize "$new"
sent keyconn "SFTP with the new key"

# ---- records: kept 4 days, then pruned; the audit trail keeps them ----
old=$(ls "$B/scp-status" | head -1 | sed 's/\.json$//')
sqlite3 "$S/backupfs.db" "UPDATE scp_transfers SET finished_epoch = finished_epoch - 5 * 86400 WHERE id = '$old'"
assert_eq "$(ls "$B/scp-status" | grep -c "$old" || true)" 0 "a record 5 days old is gone"
assert_ok test "$(sqlite3 "$S/backupfs.db" "SELECT count(*) FROM audit WHERE action = 'scp' AND target = '$id'")" -gt 10

# ---- schedules with do_scp: each new backup through their connection ----
# sched_run NAME N: waits (bounded, 60 s) for the schedule's Nth run to end
# and hand its backup to the transfer (or say why not); prints the run.
sched_run() {
	local i r=
	for ((i = 0; i < 1200; i++)); do
		r=$(sed -n "${2}p" "$M/schedules/$1/runs")
		[ -n "$r" ] && jq -e '(.status | IN("Completed", "Failed", "Skipped"))
			and (.transferId != null or .reason != null)' <<<"$r" >/dev/null && break
		sleep 0.05
	done
	echo "$r"
}
# sched_sent N TIME WHAT: at TIME, the Nth run of "offsite" makes a backup
# and sends it; sets sid to the backup's id.
sched_sent() {
	local r x j
	clock "$2"
	r=$(sched_run offsite "$1")
	assert_eq "$(jq -r .status <<<"$r")" Completed "$3: the run Completed"
	sid=$(jq -r .backupId <<<"$r")
	x=$(jq -r .transferId <<<"$r")
	assert_eq "$(cat "$M/system/backups/$sid/status")" Completed "$3: its backup Completed"
	j=$(B=$M/system/backups/$sid xfer_wait "$x")
	assert_eq "$(jq -r '.status, .backupId, .connection' <<<"$j" | tr '\n' ' ')" \
		"Completed $sid keyconn " "$3: scp-status/$x.json says it was sent"
	assert_eq "$(sha256sum < "$H/dest/$sid.backup")" \
		"$(sha256sum < "$M/system/backups/$sid/$sid.backup")" \
		"$3: byte-identical at the destination"
	assert_eq "$(sed -n "${1}p" "$M/schedules/offsite/runs" | jq -r .reason)" null \
		"$3: no reason in the run"
}
rm -f "$H/dest/"*
bk_put "$M/schedules/create" '{"name": "offsite", "run_at": "0 * * * *",
	"database_backup_params": {"scope": "system", "do_scp": true,
	"connection": "keyconn", "retentionCount": 1}}'
sched_sent 1 2030-01-01T01:00:20Z "the 01:00 run"
s1=$sid
sched_sent 2 2030-01-01T02:00:20Z "the 02:00 run"
ok=1; [ -e "$M/system/backups/$s1" ] && ok=0
assert_eq "$ok" 1 "retention deleted the older scheduled backup on the appliance"
assert_eq "$(ls -A "$H/dest" | tr '\n' ' ')" \
	"$(printf '%s\n' "$s1.backup" "$sid.backup" | sort | tr '\n' ' ')" \
	"the destination keeps both copies"
rmdir "$M/schedules/offsite"

# A connection that fails: the backup stays Completed, the run says why.
for c in closed ro; do
	bk_put "$M/schedules/create" "{\"name\": \"off$c\", \"run_at\": \"0 3 * * *\",
		\"database_backup_params\": {\"do_scp\": true, \"connection\": \"$c\"}}"
done
clock 2030-01-01T03:00:20Z
sched_failed() {	# NAME WORDS WHAT
	local r i x
	r=$(sched_run "$1" 1)
	assert_eq "$(jq -r .status <<<"$r")" Completed "$3: the run Completed"
	sid=$(jq -r .backupId <<<"$r")
	assert_eq "$(cat "$M/system/backups/$sid/status")" Completed "$3: its backup Completed"
	x=$(jq -r .transferId <<<"$r")
	assert_eq "$(B=$M/system/backups/$sid xfer_wait "$x" | jq -r .status)" Failed \
		"$3: scp-status/$x.json says Failed"
	for ((i = 0; i < 600; i++)); do		# the run learns it (30 s)
		r=$(cat "$M/schedules/$1/runs")
		[ "$(jq -r .reason <<<"$r")" != null ] && break
		sleep 0.05
	done
	assert_contains "$(jq -r .reason <<<"$r")" "$2" "$3: the reason in the run"
	assert_eq "$(jq -r .status <<<"$r")" Completed "$3: the run stays Completed"
	echo "# $3: $(jq -r .reason <<<"$r")"
}
sched_failed offclosed "cannot reach 127.0.0.1 port $CLOSED" "do_scp to a closed port"
sched_failed offro "no permission to write in $H/ro" "do_scp to a read-only destination"
rmdir "$M/schedules/offclosed" "$M/schedules/offro"

# ---- a 256 MiB archive, while the mount keeps serving reads ----
perl -e 'my $x = "x" x 65536; for my $i (1..4200) {
	print "{\"domain\":\"root\",\"type\":\"users\",\"name\":\"big-$i\",\"attrs\":{\"blob\":\"$x\"}}\n" }' \
	> "$BK_TMP/big.jsonl"
"$BACKUPCTL" --state "$S" resource import "$BK_TMP/big.jsonl" >/dev/null
rm -f "$BK_TMP/big.jsonl"
echo '{"description":"big"}' > "$M/system/backups/create"
"$BACKUPCTL" wait "$M" >/dev/null
id=$(readlink "$M/system/backups/latest")
B=$M/system/backups/$id
size=$(stat -c %s "$B/$id.backup")
assert_ok test "$size" -ge $((256 * 1024 * 1024))
sum=$(sha256sum < "$B/$id.backup")
x=$(xfer keyconn)
cat "$M/README" "$M/status" "$M/system/backups/$id/backup.json" "$C/keyconn/connection.json" \
	"$B/scp-status/$x.json" > /dev/null
assert_eq "$(jq -r .status "$B/scp-status/$x.json")" "In Progress" "reads finished while the transfer is In Progress"
# a backup being sent is not deleted (by hand, nor by a retention)
assert_fails_with EBUSY "rmdir '$B'"
assert_contains "$(jq -r .lastError.message "$M/status")" "being transferred by SCP (transfer $x)" \
	"rmdir during its transfer: reason"
assert_ok test -d "$B"
seen_partial=0
seen_tmp=0
while [ "$(jq -r .status "$B/scp-status/$x.json")" = "In Progress" ]; do
	# the final name is absent or holds the whole archive (renamed in)
	[ -e "$H/dest/$id.backup" ] &&
		[ "$(stat -c %s "$H/dest/$id.backup" 2>/dev/null)" != "$size" ] && seen_partial=1
	ls -A "$H/dest" | grep -q '\.partial$' && seen_tmp=1
	sleep 0.05
done
assert_eq "$seen_partial" 0 "never a partial file under the final name"
assert_eq "$seen_tmp" 1 "the data went to a temporary name"
assert_eq "$(jq -r .status "$B/scp-status/$x.json")" Completed "the big transfer completes"
assert_eq "$(sha256sum < "$H/dest/$id.backup")" "$sum" "the big archive is byte-identical at the destination"
jq -r '"# big transfer: \(.bytes) bytes, \(.started) to \(.finished)"' "$B/scp-status/$x.json"

# ---- a daemon stopped during a transfer: Failed, never a partial file ----
stopped() {	# STOP-COMMAND WORDS WHAT
	local x j
	rm -f "$H/dest/$id.backup"
	x=$(xfer keyconn)
	$1 "$M"
	bk_mount "$S" "$M"
	j=$(cat "$B/scp-status/$x.json")
	assert_eq "$(jq -r .status <<<"$j")" Failed "$3 during a transfer: Failed"
	assert_contains "$(jq -r .reason <<<"$j")" "$2" "$3 during a transfer: reason"
	assert_eq "$(ls -A "$H/dest" | grep -c "^$id.backup$" || true)" 0 \
		"$3 during a transfer: nothing under the final name"
}
stopped bk_umount cancelled unmounted
assert_eq "$(ls -A "$H/dest" | grep -c "^\\.$id" || true)" 0 \
	"a cancelled transfer leaves no temporary file"
stopped bk_kill9 interrupted killed

bk_done
