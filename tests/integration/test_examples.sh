#!/usr/bin/env bash
# Every script of examples/ run against temporary appliances:
# offsite-rsync.sh and offsite-rclone.sh into local directories (only
# Completed archives, idempotent, --prune), restore-on-new-appliance.sh onto
# a second appliance (system and domain backups), schedule-without-cron.sh
# --once (rotation, EBUSY), and each examples/filters/*.json accepted by a
# domain's create and restoring exactly the example's resources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bk_setup "$@"

EX=$(cd "$(dirname "$0")/../../examples" && pwd)
export BACKUPCTL	# restore-on-new-appliance.sh uses it
export RCLONE_CONFIG=$BK_TMP/rclone.conf	# no config: local paths only
: > "$RCLONE_CONFIG"
A=$BK_TMP/a		# the demo appliance
B=$BK_TMP/b		# a new, empty appliance to restore onto
C=$BK_TMP/c		# a large one: backups In Progress, Failed, EBUSY
PASS='examples test passphrase'
OUT=$BK_TMP/out
mkdir -p "$A" "$B" "$C" "$OUT"
"$BACKUPCTL" init "$A/state" --demo >/dev/null
"$BACKUPCTL" init "$B/state" >/dev/null
"$BACKUPCTL" init "$C/state" >/dev/null
"$BACKUPCTL" --state "$C/state" domain create bulk >/dev/null
seq 1 400000 | sed 's/.*/{"domain":"bulk","type":"keys","name":"bulk-&"}/' |
	"$BACKUPCTL" --state "$C/state" resource import - >/dev/null
bk_mount "$A/state" "$A/mnt"
bk_mount "$B/state" "$B/mnt"
# C's second backup stays In Progress (held before its commit) until
# the daemon is killed below: however fast backups get.
BACKUPFS_FAULT_RELEASE=$BK_TMP/never BACKUPFS_FAULT=backup.commit:2:stall \
	bk_mount "$C/state" "$C/mnt"
AM=$A/mnt BM=$B/mnt CM=$C/mnt

sysb() { printf '%s' "$1" | cat > "$AM/system/backups/create"; cat "$AM/wait" >/dev/null; jq -r .backupId "$AM/status"; }
domb() { printf '%s' "$1" | cat > "$AM/domains/root/backups/create"; cat "$AM/wait" >/dev/null; jq -r .backupId "$AM/status"; }
# ids of a DEST tree: "scope/id" lines, sorted
dest_ids() { (cd "$1" && find . -name '*.backup' | sed 's|^\./||; s|/[^/]*$||' | sort | tr '\n' ' '); }
# a fingerprint of every file of a tree that changes when a file is rewritten
tree_stamp() { (cd "$1" && find . -type f -printf '%p %s %T@ %C@ %i\n' | sort | sha256sum); }
# resources of a domain as "type/name" lines
listing() {
	(cd "$1/resources" && for t in *; do for f in "$t"/*.json; do
		if [ -e "$f" ]; then echo "${f%.json}"; fi; done; done) | sort | tr '\n' ' '
}

s1=$(sysb '{"description":"first"}')
s2=$(sysb '{"description":"second"}')
d1=$(domb '{"description":"root, all"}')
assert_eq "$(cat "$AM/system/backups/$s2/status")" Completed "system backups made"
assert_eq "$(cat "$AM/domains/root/backups/$d1/status")" Completed "domain backup made"
want="$(printf '%s\n' "domains/root/$d1" "system/$s1" "system/$s2" | sort | tr '\n' ' ')"

# ---- offsite-rsync.sh ----
R=$BK_TMP/offsite-rsync
assert_status 2 "$EX/offsite-rsync.sh" "$AM"
out=$("$EX/offsite-rsync.sh" "$AM" "$R" 2>&1) || fail "offsite-rsync first run: $out"
assert_contains "$out" "copied 6 file(s), 0 failure(s)" "rsync: first run copies 3 archives + 3 backup.json"
assert_eq "$(dest_ids "$R")" "$want" "rsync: every Completed backup, in DEST/<scope>/<id>/"
assert_ok cmp "$R/system/$s1/$s1.backup" "$AM/system/backups/$s1/$s1.backup"
assert_ok cmp "$R/domains/root/$d1/backup.json" "$AM/domains/root/backups/$d1/backup.json"
stamp=$(tree_stamp "$R")
out=$("$EX/offsite-rsync.sh" "$AM" "$R" 2>&1) || fail "offsite-rsync second run: $out"
assert_contains "$out" "copied 0 file(s), 0 failure(s)" "rsync: second run copies nothing"
assert_eq "$(tree_stamp "$R")" "$stamp" "rsync: second run rewrote no file"
assert_status 1 "$EX/offsite-rsync.sh" "$BK_TMP/not-mounted" "$R"
assert_status 1 "$EX/offsite-rsync.sh" "$AM" "/proc/no/such/dir"

# ---- offsite-rclone.sh ----
L=$BK_TMP/offsite-rclone
if ! command -v rclone >/dev/null; then
	fail "rclone is not installed (tests/run.sh installs it)"
else
	out=$("$EX/offsite-rclone.sh" "$AM" "$L" 2>&1) || fail "offsite-rclone first run: $out"
	assert_eq "$(dest_ids "$L")" "$want" "rclone: every Completed backup"
	assert_ok diff -r "$R" "$L"
	stamp=$(tree_stamp "$L")
	out=$("$EX/offsite-rclone.sh" "$AM" "$L" 2>&1) || fail "offsite-rclone second run: $out"
	assert_eq "$(tree_stamp "$L")" "$stamp" "rclone: second run rewrote no file"
fi

# ---- In Progress and Failed backups are never copied (appliance C) ----
c1=$(printf '{}' | cat > "$CM/domains/root/backups/create"; cat "$CM/wait" >/dev/null; jq -r .backupId "$CM/status")
printf '{"description":"big"}' | cat > "$CM/domains/bulk/backups/create"
victim=$(jq -r .backupId "$CM/status")
for i in $(seq 1 100); do ls "$C/state/archives" | grep -q partial && break; sleep 0.02; done
CR=$BK_TMP/offsite-c CL=$BK_TMP/offsite-c-rclone
out=$("$EX/offsite-rsync.sh" "$CM" "$CR" 2>&1) || fail "offsite-rsync during a backup: $out"
out2=$("$EX/offsite-rclone.sh" "$CM" "$CL" 2>&1) || fail "offsite-rclone during a backup: $out2"
st=$(cat "$CM/domains/bulk/backups/$victim/status")
assert_eq "$st" "In Progress" "the big backup was still In Progress during the copies"
assert_contains "$out" "skipping domains/bulk/$victim: In Progress" "rsync says it skips the backup In Progress"
assert_contains "$out2" "skipping domains/bulk/$victim: In Progress" "rclone says it skips it"
assert_eq "$(dest_ids "$CR")" "domains/root/$c1 " "rsync: the backup In Progress is not copied"
assert_eq "$(dest_ids "$CL")" "domains/root/$c1 " "rclone: the backup In Progress is not copied"
bk_kill9 "$CM"
bk_mount "$C/state" "$CM"
assert_eq "$(head -c 6 "$CM/domains/bulk/backups/$victim/status")" Failed "the interrupted backup is Failed"
out=$("$EX/offsite-rsync.sh" "$CM" "$CR" 2>&1) || fail "offsite-rsync with a Failed backup: $out"
"$EX/offsite-rclone.sh" "$CM" "$CL" >/dev/null 2>&1 || fail "offsite-rclone with a Failed backup"
assert_contains "$out" "skipping domains/bulk/$victim: Failed" "rsync says it skips the Failed backup"
assert_eq "$(dest_ids "$CR")" "domains/root/$c1 " "rsync: the Failed backup is not copied"
assert_eq "$(dest_ids "$CL")" "domains/root/$c1 " "rclone: the Failed backup is not copied"

# ---- schedule-without-cron.sh: EBUSY is retried (C: backups take a while) ----
printf '{"description":"big again"}' | cat > "$CM/domains/bulk/backups/create"
out=$(RETRY_SECONDS=0 RETRIES=3 "$EX/schedule-without-cron.sh" --once "$CM" 1 2 2>&1) ||
	fail "schedule --once while busy: $out"
assert_contains "$out" "another operation is running" "schedule: EBUSY is reported"
assert_match "$out" "backup [0-9a-f]{32}: Completed" "schedule: and retried until the backup Completed"

# ---- schedule-without-cron.sh: rotation (A) ----
assert_status 2 "$EX/schedule-without-cron.sh"
sid=()
for i in 1 2 3; do
	out=$("$EX/schedule-without-cron.sh" --once "$AM" 60 2 2>&1) || fail "schedule --once #$i: $out"
	assert_match "$out" "backup [0-9a-f]{32}: Completed" "schedule --once #$i completes"
	sid+=("$(grep -oE 'started backup [0-9a-f]{32}' <<< "$out" | cut -d' ' -f3)")
done
assert_contains "$out" "deleted old backup ${sid[0]}" "schedule: the third round deletes the oldest scheduled backup"
sched=$(for id in $(ls "$AM/system/backups" | grep -E '^[0-9a-f]{32}$'); do
	jq -r 'select(.description | startswith("scheduled ")) | .id' "$AM/system/backups/$id/backup.json"; done | sort | tr '\n' ' ')
assert_eq "$sched" "$(printf '%s\n' "${sid[1]}" "${sid[2]}" | sort | tr '\n' ' ')" "schedule: the two newest scheduled backups remain (KEEP=2)"
assert_ok test -d "$AM/system/backups/$s1"
assert_ok test -d "$AM/system/backups/$s2"
assert_eq "$(ls "$AM/system/backups" | grep -cE '^[0-9a-f]{32}$')" 4 "hand-made backups are never deleted"

# ---- --prune (rsync and rclone) ----
rmdir "$AM/system/backups/$s1"
out=$("$EX/offsite-rsync.sh" --prune "$AM" "$R" 2>&1) || fail "offsite-rsync --prune: $out"
assert_contains "$out" "pruned system/$s1" "rsync --prune says what it deletes"
assert_ok test ! -e "$R/system/$s1"
assert_ok test -f "$R/system/$s2/$s2.backup"
assert_eq "$(ls "$R/system" | wc -l)" 3 "rsync --prune: s2 and the two scheduled backups"
if command -v rclone >/dev/null; then
	out=$("$EX/offsite-rclone.sh" --prune "$AM" "$L" 2>&1) || fail "offsite-rclone --prune: $out"
	assert_ok diff -r "$R" "$L"
fi

# ---- restore-on-new-appliance.sh: a system backup, from the off-site copy ----
printf '%s\n' "$PASS" > "$AM/passphrase"
skey=$(readlink "$AM/system/backupkeys/default")
cp "$AM/system/backupkeys/$skey/$skey.backupkey" "$OUT/system.backupkey"
dkey=$(readlink "$AM/domains/root/backupkeys/default")
cp "$AM/domains/root/backupkeys/$dkey/$dkey.backupkey" "$OUT/root.backupkey"
printf '%s\n' "$PASS" > "$OUT/pass"
assert_status 2 "$EX/restore-on-new-appliance.sh" "$R/system/$s2/$s2.backup"
rc=0
out=$(BACKUPFS_PASSPHRASE="wrong passphrase" "$EX/restore-on-new-appliance.sh" \
	"$R/system/$s2/$s2.backup" "$OUT/system.backupkey" "$BM" 2>&1) || rc=$?
assert_eq "$rc" 1 "restore: a wrong passphrase fails"
assert_contains "$out" "passphrase is wrong" "and says so"
rc=0
out=$(BACKUPFS_PASSPHRASE=$PASS "$EX/restore-on-new-appliance.sh" \
	"$R/system/$s2/$s2.backup" "$OUT/system.backupkey" "$BM" 2>&1) || rc=$?
assert_eq "$rc" 0 "restore of a system backup onto a new appliance exits 0"
assert_contains "$out" '"status": "Completed"' "restore prints the result"
assert_contains "$out" "restore-report.json" "restore prints the report"
assert_ok test -f "$BM/system/backups/$s2/restore-report.json"
for d in root finance hr; do
	assert_ok diff -r "$AM/domains/$d/resources" "$BM/domains/$d/resources"
done

# ---- restore-on-new-appliance.sh: a domain backup into another domain ----
"$BACKUPCTL" --state "$B/state" domain create copy >/dev/null
rc=0
out=$("$EX/restore-on-new-appliance.sh" --domain nosuch --passphrase-file "$OUT/pass" \
	"$R/domains/root/$d1/$d1.backup" "$OUT/root.backupkey" "$BM" 2>&1) || rc=$?
assert_eq "$rc" 1 "restore into a missing domain fails"
assert_contains "$out" "does not exist" "and says so"
out=$("$EX/restore-on-new-appliance.sh" --domain copy --passphrase-file "$OUT/pass" \
	"$R/domains/root/$d1/$d1.backup" "$OUT/root.backupkey" "$BM" 2>&1) ||
	fail "restore of a domain backup: $out"
assert_eq "$(listing "$BM/domains/copy")" "$(listing "$AM/domains/root")" "domain restore: every resource of root in copy"
rc=0
out=$("$EX/restore-on-new-appliance.sh" --passphrase-file "$OUT/pass" \
	"$R/domains/root/$d1/$d1.backup" "$OUT/system.backupkey" "$BM" 2>&1) || rc=$?
assert_eq "$rc" 1 "restore with the wrong key file fails"
assert_contains "$out" "was made with key $dkey" "and names the key needed"

# ---- examples/filters: each accepted, restoring the example's resources ----
n=0
while read -r file expected; do
	n=$((n + 1))
	f=$EX/filters/$file
	if ! jq -c '{description: "filter example", filters: .}' "$f" | cat > "$AM/domains/root/backups/create"; then
		fail "$file refused: $(jq -r .lastError.message "$AM/status")"
		continue
	fi
	res=$(cat "$AM/wait")
	id=$(jq -r .backupId <<< "$res")
	assert_eq "$(jq -r .status <<< "$res")" Completed "$file: backup Completed"
	assert_eq "$("$BACKUPCTL" inspect "$AM/domains/root/backups/$id/$id.backup" | jq -c .filters)" \
		"$(jq -c . "$f")" "$file: the archive carries the filters"
	"$BACKUPCTL" --state "$B/state" domain create "ex$n" >/dev/null
	cp "$AM/domains/root/backups/$id/$id.backup" "$OUT/"
	out=$("$EX/restore-on-new-appliance.sh" --domain "ex$n" --passphrase-file "$OUT/pass" \
		"$OUT/$id.backup" "$OUT/root.backupkey" "$BM" 2>&1) || fail "$file: restore: $out"
	assert_eq "$(listing "$BM/domains/ex$n")" "${expected//,/ } " "$file: restores exactly the example's resources"
done <<'EOF'
example1-cte-keys-and-policies.json cte_policies/ldt-policy,cte_policies/standard-policy,keys/cte-key-1,keys/cte-key-2
example2-cte-policies-without-keys.json cte_policies/ldt-policy,cte_policies/standard-policy
example3-standard-cte-policies.json cte_policies/standard-policy
example4-users-and-groups.json groups/key-admins,users/alice,users/frank
example4b-user-frank.json groups/key-admins,users/frank
example5-keys-by-name.json keys/hmac-key,keys/payroll-key
EOF
assert_eq "$(ls "$EX/filters"/*.json | wc -l)" "$n" "every filter file was tested"
assert_ok test -s "$EX/filters/README.md"

bk_done
