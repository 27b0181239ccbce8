# lib.sh - helpers for backupfs integration tests.  Source it; do not run it.
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "$(dirname "$0")/lib.sh"
#   bk_setup "$@"                  # $1 = backupfs, $2 = backupctl (ctest)
#   "$BACKUPCTL" init "$BK_TMP/a"
#   bk_mount "$BK_TMP/a" "$BK_TMP/mnt"
#   assert_eq "$(jq -r .status "$BK_TMP/mnt/status")" Idle "status at start"
#   assert_fails_with EINVAL "printf '[' > '$BK_TMP/mnt/system/backups/create'"
#   bk_done                        # "N passed, N failed"; non-zero on failure
#
# Everything bk_mount mounted is unmounted, and BK_TMP removed, by an EXIT
# trap, also when the test aborts or, after BK_TIMEOUT seconds (540, under
# ctest's 600), hangs.  Assertions count and go on: they never
# stop the test, so one run reports every failure.
#
# The daemons bk_mount starts are background jobs of the test's shell: wait
# for your own background jobs by pid (`cmd & pid=$!; ...; wait $pid`); a
# bare `wait` would wait for the daemons too, i.e. forever.
#
# Writing to control files: bash's builtin `echo ... > f` ignores errors
# from close(2), which is where FUSE reports an incomplete JSON object or a
# rejected upload.  Use bk_put (or cat, cp, dd) when the close matters.

BK_PASSED=0
BK_FAILED=0
BK_DONE=0
BK_TMP=
BK_WATCHDOG=
BK_MOUNTS=()			# mount points, in mount order
declare -A BK_MOUNT_PID=()	# mount point -> daemon pid
declare -A BK_MOUNT_LOG=()	# mount point -> daemon log file

# ---- counters ----

pass() {
	BK_PASSED=$((BK_PASSED + 1))
	echo "ok - $*"
}

fail() {
	BK_FAILED=$((BK_FAILED + 1))
	echo "FAIL - $*" >&2
}

# Prints the summary and exits: 0 if nothing failed.
bk_done() {
	BK_DONE=1
	echo "$BK_PASSED passed, $BK_FAILED failed"
	[ "$BK_FAILED" -eq 0 ] && exit 0
	exit 1
}

# ---- assertions (each records one pass or fail and returns 0) ----

# assert_eq GOT WANT [WHAT]
assert_eq() {
	local what=${3:-"'$2'"}
	if [ "$1" == "$2" ]; then
		pass "$what"
	else
		fail "$what: got '$1', want '$2'"
	fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	local what=${3:-"contains '$2'"}
	if [[ "$1" == *"$2"* ]]; then
		pass "$what"
	else
		fail "$what: '$2' not in: $1"
	fi
}

# assert_match STRING ERE [WHAT]
assert_match() {
	local what=${3:-"matches /$2/"}
	if [[ "$1" =~ $2 ]]; then
		pass "$what"
	else
		fail "$what: '$1' does not match /$2/"
	fi
}

# assert_ok CMD... : runs CMD (argv), expects exit status 0.
assert_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$*"
	else
		fail "$* exited $rc: $out"
	fi
}

# assert_status N CMD... : runs CMD (argv), expects exit status N.
assert_status() {
	local want=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$* exits $want"
	else
		fail "$* exited $rc, want $want: $out"
	fi
}

# The strerror text of an errno name: bk_strerror EBUSY -> "Device or
# resource busy".
bk_strerror() {
	perl -MErrno -e 'my $n = eval { no strict "refs"; &{"Errno::$ARGV[0]"}() };
		defined $n or die "unknown errno name $ARGV[0]\n"; $! = $n; print "$!"' "$1"
}

# assert_fails_with ERRNO_NAME COMMAND...
# Runs COMMAND (its words joined and evaluated by the shell, in a subshell,
# so redirections work), expects it to fail, and its stderr to hold the
# strerror text of ERRNO_NAME (e.g. EINVAL -> "Invalid argument").
# BK_STDERR holds that stderr afterwards.
assert_fails_with() {
	local name=$1 text rc=0 errf
	shift
	text=$(bk_strerror "$name")
	errf=$(mktemp "$BK_TMP/.stderr.XXXXXX")
	( eval "$*" ) >/dev/null 2>"$errf" || rc=$?
	BK_STDERR=$(cat "$errf")
	rm -f "$errf"
	if [ "$rc" -eq 0 ]; then
		fail "$* should fail with $name but succeeded"
	elif [[ "$BK_STDERR" != *"$text"* ]]; then
		fail "$* failed ($rc) without '$text': $BK_STDERR"
	else
		pass "$* fails with $name"
	fi
}

# bk_put FILE TEXT: writes TEXT (no newline added) to FILE in one write,
# with errors at write(2) and at close(2) reported on stderr.
bk_put() {
	printf '%s' "$2" | cat > "$1"
}

# ---- set-up, mounts, clean-up ----

# bk_setup [BACKUPFS [BACKUPCTL]]: the programs under test (arguments, else
# $BACKUPFS / $BACKUPCTL, else the ones on PATH), a temporary directory
# BK_TMP, and the clean-up trap.
bk_setup() {
	BACKUPFS=${1:-${BACKUPFS:-$(command -v backupfs || true)}}
	BACKUPCTL=${2:-${BACKUPCTL:-$(command -v backupctl || true)}}
	if [ ! -x "$BACKUPFS" ] || [ ! -x "$BACKUPCTL" ]; then
		echo "usage: $0 PATH/TO/backupfs PATH/TO/backupctl" >&2
		exit 2
	fi
	export BACKUPFS BACKUPCTL
	BK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bk-test.XXXXXX")
	export BK_TMP
	unset BACKUPFS_STATE
	trap bk__cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'bk__on_err $LINENO "$BASH_COMMAND"' ERR
	set -E
	bk__watchdog "$$" "${BK_TIMEOUT:-540}" </dev/null >/dev/null &
	BK_WATCHDOG=$!
	disown "$BK_WATCHDOG"	# not a job: a bare `wait` must not wait for it
}

# A test that hangs (a stuck read on a mount) would be SIGKILLed by ctest's
# timeout (600 s), leaving its mounts behind.  The watchdog acts first:
# after BK_TIMEOUT seconds it kills the daemons bk_mount started (stuck
# calls then fail with ENOTCONN), detaches their mounts, and sends SIGTERM
# to the test, whose EXIT trap cleans up.
bk__watchdog() {
	local parent=$1 timeout=$2 i pid mnt
	trap - EXIT ERR
	for ((i = 0; i < timeout; i++)); do
		kill -0 "$parent" 2>/dev/null || exit 0
		sleep 1
	done
	echo "TIMEOUT: test still running after $timeout s; stopping it" >&2
	kill -TERM "$parent" 2>/dev/null || true
	if [ -f "$BK_TMP/.daemons" ]; then
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null || true
		done < "$BK_TMP/.daemons"
	fi
	awk -v p="$BK_TMP/" 'index($2, p) == 1 { print $2 }' /proc/mounts |
		while read -r mnt; do
			fusermount3 -uz "$mnt" 2>/dev/null || true
		done
}

# bk_wait_for PID SECS: `wait PID`, bounded.  Returns PID's exit status;
# if it still runs after SECS seconds, prints where it is stuck (every
# thread's stack, when gdb is there), kills it and returns 124.
bk_wait_for() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bk_wait_for: process $pid still running after $secs s:" >&2
		cat "/proc/$pid/stack" 2>/dev/null | sed 's/^/  | /' >&2
		command -v gdb >/dev/null &&
			timeout 60 gdb -q -batch -p "$pid" \
				-ex 'thread apply all bt' 2>&1 |
			sed 's/^/  | /' >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 124
	fi
	wait "$pid"
}

bk__on_err() {
	echo "aborted: line $1: $2" >&2
}

# bk_mount [BACKUPFS_ARGS...] STATE MNT
# Starts the daemon in the foreground of a background job with cache
# timeouts at 0, its log in BK_MOUNT_LOG[MNT]; waits (bounded, 10 s) for the
# mount; fails, printing the log, if the daemon dies or the mount does not
# appear.  Extra arguments (e.g. -o passphrase_file=F) go before STATE.
bk_mount() {
	local n=$# state mnt log pid i
	state=${@:n-1:1}
	mnt=${@:n:1}
	if [ ! -c /dev/fuse ]; then
		echo "bk_mount: /dev/fuse is missing" >&2
		return 1
	fi
	mkdir -p "$mnt"
	log=$(mktemp "$BK_TMP/.backupfs-log.XXXXXX")
	"$BACKUPFS" -f -o entry_timeout=0,attr_timeout=0,negative_timeout=0 \
		"${@:1:n-2}" "$state" "$mnt" >"$log" 2>&1 &
	pid=$!
	echo "$pid" >> "$BK_TMP/.daemons"
	BK_MOUNTS+=("$mnt")
	BK_MOUNT_PID[$mnt]=$pid
	BK_MOUNT_LOG[$mnt]=$log
	for ((i = 0; i < 100; i++)); do
		if mountpoint -q "$mnt"; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bk_mount: backupfs exited before mounting $mnt:" >&2
			sed 's/^/  | /' "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "bk_mount: $mnt not mounted after 10 s; backupfs log:" >&2
	sed 's/^/  | /' "$log" >&2
	return 1
}

# bk_log MNT: the daemon's log so far.
bk_log() {
	cat "${BK_MOUNT_LOG[$1]}"
}

# bk_umount MNT: fusermount3 -u (retried while busy for 5 s), falling back
# to -uz and a kill; waits for the daemon (10 s, then SIGKILL).  A daemon
# that exits with an error (crash, sanitizer report) is a test failure.
bk_umount() {
	local mnt=$1 pid=${BK_MOUNT_PID[$1]:-} i rc=0 killed=0
	for ((i = 0; i < 50; i++)); do
		mountpoint -q "$mnt" 2>/dev/null || grep -qs " $mnt fuse" /proc/mounts || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.1
	done
	if grep -qs " $mnt fuse" /proc/mounts; then
		echo "bk_umount: $mnt busy; lazy unmount" >&2
		fusermount3 -uz "$mnt" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$i" -eq 50 ] && { kill -TERM "$pid" 2>/dev/null || true; killed=1; }
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			killed=1
		fi
		wait "$pid" 2>/dev/null || rc=$?
		unset "BK_MOUNT_PID[$mnt]"
		if [ "$rc" -ne 0 ] && [ "$killed" -eq 0 ]; then
			fail "backupfs on $mnt exited with status $rc"
			sed 's/^/  | /' "${BK_MOUNT_LOG[$mnt]}" >&2
		fi
	fi
	return 0
}

# bk_kill9 MNT: a crash.  SIGKILL to MNT's daemon, reaped, then the dead
# mount (ENOTCONN) is detached with fusermount3 -uz so that MNT can be
# mounted again with bk_mount.
bk_kill9() {
	local mnt=$1 pid=${BK_MOUNT_PID[$1]:-}
	if [ -z "$pid" ]; then
		echo "bk_kill9: nothing mounted by bk_mount at $mnt" >&2
		return 1
	fi
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "BK_MOUNT_PID[$mnt]"
	fusermount3 -uz "$mnt" 2>/dev/null || true
}

bk__cleanup() {
	local rc=$? i mnt
	trap - ERR
	set +e
	[ -n "${BK_WATCHDOG:-}" ] && kill "$BK_WATCHDOG" 2>/dev/null
	for ((i = ${#BK_MOUNTS[@]} - 1; i >= 0; i--)); do
		mnt=${BK_MOUNTS[i]}
		if [ -n "${BK_MOUNT_PID[$mnt]:-}" ]; then
			bk_umount "$mnt"
		fi
	done
	if [ -n "$BK_TMP" ] && [ -d "$BK_TMP" ]; then
		if grep -qs " $BK_TMP/" /proc/mounts; then
			echo "cleanup: mounts left under $BK_TMP; not removing it" >&2
		else
			rm -rf --one-file-system "$BK_TMP"
		fi
	fi
	if [ "$BK_DONE" -eq 0 ]; then
		echo "$BK_PASSED passed, $BK_FAILED failed (aborted, status $rc)" >&2
		[ "$rc" -eq 0 ] && rc=1
	elif [ "$BK_FAILED" -ne 0 ] && [ "$rc" -eq 0 ]; then
		# a daemon failed at clean-up, after bk_done
		echo "$BK_PASSED passed, $BK_FAILED failed"
		rc=1
	fi
	exit "$rc"
}
