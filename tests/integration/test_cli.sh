#!/usr/bin/env bash
# test_cli.sh - backupctl on a state directory, without a mount: init,
# config, domains, resources (add, list, delete, a 10,000-line import, an
# import with a bad line), backup keys, inspect/verify of non-archives,
# wait on a fake status file, usage errors, --help, --version.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bk_setup "$@"

ctl() { "$BACKUPCTL" "$@"; }
S=$BK_TMP/state

# ---- help, version, usage errors ----
assert_contains "$(ctl --help)" "Usage: backupctl [--state DIR] COMMAND" "--help"
assert_match "$(ctl --version)" '^backupctl [0-9]+\.[0-9]+\.[0-9]+$' "--version"
assert_status 2 ctl
assert_status 2 ctl frobnicate
assert_status 2 ctl resource
assert_status 2 ctl resource add --domain root --type keys
assert_status 2 ctl init "$BK_TMP/x" --no-such-option
err=$(ctl domain list 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 2 "no state directory: usage error"
assert_contains "$err" "backupctl: " "errors start with backupctl:"
assert_contains "$err" "BACKUPFS_STATE" "no state directory: says how to set one"

# ---- init ----
out=$(ctl init "$S" --product-version 2.17.3 --lts 2.11,2.17,2.20 --demo)
assert_contains "$out" "$S" "init names the state directory"
assert_eq "$(stat -c %a "$S/rot.key")" 600 "root-of-trust key is 0600"
assert_status 1 ctl init "$S"
assert_status 1 ctl init "$BK_TMP/bad" --product-version banana
export BACKUPFS_STATE=$S

# ---- config ----
app=$(ctl config show)
assert_eq "$(jq -r .productVersion <<<"$app")" 2.17.3 "product version from init"
assert_eq "$(jq -c .lts <<<"$app")" '["2.11","2.17","2.20"]' "LTS list from init"
assert_ok ctl config set product-version 2.18.0
assert_eq "$(ctl config show | jq -r .productVersion)" 2.18.0 "config set product-version"
assert_status 1 ctl config set product-version 2.x
assert_status 1 ctl config set no-such-setting 1
assert_eq "$(ctl --state "$S" config show | jq -r .productVersion)" 2.18.0 "--state before the command"
assert_eq "$(BACKUPFS_STATE= ctl config show --state "$S" | jq -r .productVersion)" 2.18.0 "--state after the command"

# ---- domains ----
domains=$(ctl domain list)
assert_contains "$domains" '{"name":"root"}' "root domain exists"
assert_match "$(wc -l <<<"$domains")" '^[2-9]|^[1-9][0-9]' "--demo adds domains"
assert_ok ctl domain create d1
assert_contains "$(ctl domain list)" '{"name":"d1"}' "domain create d1"
assert_status 1 ctl domain create d1
assert_status 1 ctl domain create ../evil
err=$(ctl domain create d2 --hsm pkcs11:token=x 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "domain create --hsm refused"
assert_contains "$err" "must name the token and the key" "domain create --hsm with a bad URI says why"
assert_eq "$(ctl domain list | jq -r 'select(.name=="d2") | .name')" "" "refused --hsm created nothing"

# ---- resources ----
id=$(ctl resource add --domain d1 --type keys --name k1 --attrs '{"algorithm":"AES","size":256}' | jq -r .id)
assert_match "$id" '^[0-9a-zA-Z-]{8,}$' "resource add prints an id"
k1=$(ctl resource list --domain d1 --type keys)
assert_eq "$(wc -l <<<"$k1")" 1 "one key in d1"
assert_eq "$(jq -r .name <<<"$k1")" k1 "key name"
assert_match "$(jq -r .fingerprint <<<"$k1")" '^[0-9a-f]{64}$' "key fingerprint is SHA-256 hex"
assert_eq "$(jq -r 'has("material")' <<<"$k1")" false "key material never printed"
assert_status 1 ctl resource add --domain d1 --type keys --name k1
assert_status 1 ctl resource add --domain d1 --type nosuchtype --name x
assert_status 1 ctl resource add --domain nosuchdomain --type users --name x
assert_status 1 ctl resource add --domain d1 --type users --name x --attrs '{not json'
assert_status 1 ctl resource list --domain nosuchdomain
assert_ok ctl resource add --domain d1 --type users --name alice --attrs '{"email":"alice@example.com"}'
assert_ok ctl resource add --domain d1 --type groups --name admins --attrs '{"members":["alice"]}'
assert_eq "$(ctl resource list --domain d1 --type groups | jq -c .members)" '["alice"]' "group members"
assert_ok ctl resource delete --domain d1 --type keys --name k1
assert_eq "$(ctl resource list --domain d1 --type keys)" "" "resource delete"
assert_status 1 ctl resource delete --domain d1 --type keys --name k1

# ---- import: 10,000 lines, then a file with a bad line ----
ctl domain create bulk
awk 'BEGIN {
	for (i = 1; i <= 10000; i++) {
		if (i % 10 == 0)
			printf "{\"domain\":\"bulk\",\"type\":\"keys\",\"name\":\"key%05d\",\"attrs\":{\"algorithm\":\"AES\",\"size\":256}}\n", i
		else
			printf "{\"domain\":\"bulk\",\"type\":\"users\",\"name\":\"user%05d\",\"attrs\":{\"email\":\"u%d@example.com\"}}\n", i, i
	}
}' > "$BK_TMP/bulk.jsonl"
assert_eq "$(ctl resource import "$BK_TMP/bulk.jsonl")" '{"imported":10000}' "import of 10,000 lines"
assert_eq "$(ctl resource list --domain bulk | wc -l)" 10000 "10,000 resources listed"
assert_eq "$(ctl resource list --domain bulk --type keys | wc -l)" 1000 "1,000 keys listed"
assert_eq "$(ctl resource list --domain bulk --type keys | jq -r .fingerprint | sort -u | wc -l)" 1000 "every key has its own material"

awk 'BEGIN {
	for (i = 1; i <= 100; i++)
		if (i == 50)
			print "{\"domain\":\"bulk\",\"type\":\"users\",\"name\":"
		else
			printf "{\"domain\":\"bulk\",\"type\":\"users\",\"name\":\"more%03d\"}\n", i
}' > "$BK_TMP/bad.jsonl"
err=$(ctl resource import "$BK_TMP/bad.jsonl" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "import with a bad line fails"
assert_contains "$err" "50" "import error names the line"
assert_eq "$(ctl resource list --domain bulk | wc -l)" 10000 "import with a bad line imports nothing"
assert_status 1 ctl resource import "$BK_TMP/no-such-file.jsonl"
out=$(printf '{"domain":"d1","type":"users","name":"bob"}\n' | ctl resource import -)
assert_eq "$out" '{"imported":1}' "import from stdin"

# ---- backup keys ----
sys=$(ctl backupkey list)
assert_eq "$(wc -l <<<"$sys")" 1 "one system backup key"
assert_eq "$(jq -r .default <<<"$sys")" true "it is the default"
assert_eq "$(jq -r 'has("key") or has("material")' <<<"$sys")" false "backup key never printed"
assert_eq "$(ctl backupkey list --domain root | jq -r .default)" true "root has a default domain key"
assert_status 1 ctl backupkey list --domain nosuchdomain

# ---- inspect and verify of files that are not archives ----
echo "hello, world" > "$BK_TMP/not-an-archive"
err=$(ctl inspect "$BK_TMP/not-an-archive" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "inspect of a non-archive fails"
assert_match "$err" "^backupctl: .*$BK_TMP/not-an-archive" "inspect names the file"
assert_status 1 ctl inspect "$BK_TMP/no-such-file"
assert_status 1 ctl inspect "$BK_TMP/not-an-archive" --password-file "$BK_TMP/no-such-file"
out=$(ctl verify "$BK_TMP/not-an-archive" 2>/dev/null) && rc=0 || rc=$?
assert_eq "$rc" 1 "verify of a non-archive fails"
assert_eq "$(jq -r .verified <<<"$out")" false "verify prints verified:false"

# ---- wait on a fake status file (no mount needed) ----
F=$BK_TMP/fake
mkdir -p "$F"
echo '{"status":"Idle"}' > "$F/status"
assert_status 0 ctl wait "$F"
echo '{"id":"op1","operation":"backup","backupId":"b1","status":"Completed","progress":100}' > "$F/status"
assert_contains "$(ctl wait "$F")" "100%" "wait on Completed"
echo '{"id":"op1","operation":"restore","backupId":"b1","status":"Failed","progress":40,"message":"wrong key"}' > "$F/status"
err=$(ctl wait "$F" 2>&1 >/dev/null) && rc=0 || rc=$?
assert_eq "$rc" 1 "wait on Failed exits 1"
assert_contains "$err" "wrong key" "wait on Failed prints the message"
echo '{"id":"op1","operation":"backup","backupId":"b2","status":"In Progress","progress":10}' > "$F/status"
assert_status 1 ctl wait "$F" --timeout 0.5
(
	sleep 0.5
	echo '{"id":"op1","operation":"backup","backupId":"b2","status":"In Progress","progress":60}' > "$F/status.new"
	mv "$F/status.new" "$F/status"
	sleep 0.5
	echo '{"id":"op1","operation":"backup","backupId":"b2","status":"Completed","progress":100}' > "$F/status.new"
	mv "$F/status.new" "$F/status"
) &
writer=$!
out=$(timeout 20 "$BACKUPCTL" wait "$F") && rc=0 || rc=$?
wait "$writer"
assert_eq "$rc" 0 "wait follows In Progress to Completed"
assert_contains "$out" " 60%" "wait prints progress changes"
assert_contains "$out" "100%  backup b2 Completed" "wait prints the end"
err=$(ctl wait "$BK_TMP/no-such-dir" 2>&1) && rc=0 || rc=$?
assert_eq "$rc" 1 "wait on a non-mount fails"
assert_contains "$err" "mounted" "wait on a non-mount says why"

# ---- on a terminal: a bar redrawn in place, with bytes, rate and ETA ----
echo '{"operation":"backup","backupId":"b3","status":"In Progress","progress":20,"bytesDone":1048576,"bytesTotal":5242880}' > "$F/status"
(
	sleep 1
	echo '{"operation":"backup","backupId":"b3","status":"In Progress","progress":60,"bytesDone":3145728,"bytesTotal":5242880}' > "$F/status.new"
	mv "$F/status.new" "$F/status"
	sleep 1
	echo '{"operation":"backup","backupId":"b3","status":"Completed","progress":100,"bytesDone":5242880,"bytesTotal":5242880}' > "$F/status.new"
	mv "$F/status.new" "$F/status"
) &
writer=$!
out=$(script -qec "timeout 20 '$BACKUPCTL' wait '$F'" /dev/null) && rc=0 || rc=$?
wait "$writer"
assert_eq "$rc" 0 "wait on a terminal exits 0 on Completed"
assert_contains "$out" "[############" "a progress bar"
assert_contains "$out" $'\r' "redrawn in place"
assert_contains "$out" "MiB/s" "with a rate"
assert_contains "$out" "ETA 0:0" "and an ETA"
assert_contains "$out" "5.0 MiB" "and the bytes done"

bk_done
