# bench/lib.sh - helpers of bench/run.sh: timing, medians, mounts, the
# table.  Sourced; not run on its own.

# What the suite installs besides the build packages: restic is the peer
# of workloads 5 and 9 (its `restic mount` runs `fusermount`, which
# Debian 12's fuse3 provides as a link to fusermount3: the package `fuse`,
# restic's recommendation, would remove fuse3).  hyperfine is not needed:
# the alternation of ours and baseline is done here.
BK_BENCH_PACKAGES=(restic fuse3 sqlite3 openssl jq perl coreutils)

declare -a ROWS=()		# "#|workload|ours|baseline|ratio|target|result"
declare -A MOUNT_PID=()
MOUNTS=()
bench_failed=0

want() {
	[ -z "$ONLY" ] || [[ $ONLY == *",$1,"* ]]
}

log() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	printf 'bench/run.sh: %s\n' "$*" >&2
	exit 1
}

# now_us: the wall clock in microseconds.
now_us() {
	echo "${EPOCHREALTIME/./}"
}

# cores_free: how much of a second core the host gives now: the time of
# two busy loops at once over the time of one (1.00: two whole cores;
# 2.00: one).  Our backups and restores use two threads, the baselines
# of 4 one; on this kind of shared machine the second core came and went
# (1.7 at times), which moved 4 and 7 more than any change.
spin() {
	local i
	for ((i = 0; i < 300000; i++)); do :; done
}
cores_free() {
	local t0 t1 t2
	t0=$(now_us)
	spin
	t1=$(now_us)
	spin & spin & wait
	t2=$(now_us)
	awk -v a="$((t1 - t0))" -v b="$((t2 - t1))" \
		'BEGIN { printf "%.2f", b / a }'
}

# timed VAR CMD...: runs CMD (argv), its wall time in seconds into VAR.
timed() {
	local __var=$1 t0 t1
	shift
	t0=$(now_us)
	"$@"
	t1=$(now_us)
	printf -v "$__var" '%s' "$(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.4f", (b - a) / 1e6 }')"
}

# median N...: the median of the numbers.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR == 0) { print "nan"; exit }
		      if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# drop_cache FILE...: evicts the files' pages from the page cache
# (posix_fadvise DONTNEED through dd), for this file only, so the
# machine's other users keep theirs.  Works on FUSE files too (the
# kernel's copy of the mounted archive).
drop_cache() {
	local f
	sync
	for f in "$@"; do
		dd if="$f" iflag=nocache count=0 status=none
	done
}

# ---- mounts ----

# mount_fs STATE MNT [OPTS]: the daemon in the foreground of a background
# job, with the product's default cache timeouts; waits for the mount.
mount_fs() {
	local state=$1 mnt=$2 pid i
	mkdir -p "$mnt"
	"$BACKUPFS" -f -o "passphrase_file=$DIR/pass${3:+,$3}" "$state" "$mnt" \
		>"$W/daemon-$(basename "$mnt").log" 2>&1 &
	pid=$!
	MOUNT_PID[$mnt]=$pid
	MOUNTS+=("$mnt")
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null ||
			die "backupfs exited before mounting $mnt: $(cat "$W/daemon-$(basename "$mnt").log")"
		sleep 0.05
	done
	die "$mnt not mounted after 10 s"
}

umount_fs() {
	local mnt=$1 pid=${MOUNT_PID[$1]:-} i
	[ -n "$pid" ] || return 0
	for ((i = 0; i < 50; i++)); do
		grep -qs " $mnt fuse" /proc/mounts || break
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.1
	done
	grep -qs " $mnt fuse" /proc/mounts && fusermount3 -uz "$mnt"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	unset "MOUNT_PID[$mnt]"
}

daemon_pid() {
	echo "${MOUNT_PID[$1]}"
}

# hwm_reset MNT / hwm_mib MNT: the daemon's peak resident memory
# (VmHWM), reset through clear_refs.
hwm_reset() {
	echo 5 > "/proc/$(daemon_pid "$1")/clear_refs"
}

hwm_mib() {
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' \
		"/proc/$(daemon_pid "$1")/status"
}

# hwm_max MIB MNT: the larger of MIB and MNT's daemon's peak.
hwm_max() {
	awk -v a="$1" -v b="$(hwm_mib "$2")" 'BEGIN { print (b > a ? b : a) }'
}

bench_cleanup() {
	local rc=$? i
	set +e
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount_fs "${MOUNTS[i]}"
	done
	if [ -n "${RESTIC_MNT_PID:-}" ]; then
		fusermount3 -u "$W/rmnt" 2>/dev/null
		kill "$RESTIC_MNT_PID" 2>/dev/null
		wait "$RESTIC_MNT_PID" 2>/dev/null
	fi
	[ -n "${bench_rm_dir_at_exit:-}" ] && rm -rf "$bench_rm_dir_at_exit"
	exit "$rc"
}

# ---- operations through the mount ----

# op_wait MNT: waits for the running operation; fails unless Completed.
op_wait() {
	local st
	st=$(cat "$1/wait")
	[[ $st == *'"status": "Completed"'* ]] ||
		die "operation did not complete: $st"
}

# backup_now MNT SCOPE_DIR JSON: starts a backup, waits for it; its id on
# stdout.
backup_now() {
	printf '%s' "$3" | cat > "$1/$2/backups/create"
	op_wait "$1"
	jq -r .backupId "$1/status"
}

# ---- results ----

# row NUM WORKLOAD OURS BASE RATIO TARGET KIND: KIND "le" passes when
# RATIO <= TARGET, "ge" when RATIO >= TARGET.
row() {
	local res
	if [ "$QUICK" = 1 ]; then
		res=quick
	elif awk -v r="$5" -v t="$6" -v k="$7" 'BEGIN {
		exit !(r == r + 0 && (k == "le" ? r <= t : r >= t)) }'; then
		res=pass
	else
		res=FAIL
		bench_failed=1
	fi
	ROWS+=("$1|$2|$3|$4|$5|$( [ "$7" = le ] && echo "≤" || echo "≥" ) $6|$res")
	log "$1 $2: ours $3, baseline $4, ratio $5 ($res)"
}

# ratio A B: A / B with 3 decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan";
		else printf "%.3f", a / b }'
}

# mibs BYTES SECONDS: throughput in MiB/s.
mibs() {
	awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f MiB/s", n / 1048576 / s }'
}

secs() {
	awk -v s="$1" 'BEGIN { if (s < 0.1) printf "%.2f ms", s * 1000;
		else printf "%.2f s", s }'
}

print_table() {
	local r
	echo
	echo "| # | workload | ours (median) | baseline (median) | ratio | target | result |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for r in "${ROWS[@]}"; do
		echo "| ${r//|/ | } |"
	done
	if [ "$QUICK" = 1 ]; then
		echo
		echo "quick mode: every workload ran; no target judged"
		return 0
	fi
	[ "$bench_failed" = 0 ] || exit 3
}
