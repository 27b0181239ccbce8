#!/usr/bin/env bash
# bench/run.sh - the benchmark suite: each workload of issue 7 against a
# baseline measured in the same run, alternating, and a table of medians,
# ratios and targets.  docs/PERFORMANCE.md explains the workloads and
# records a full run.
#
#   bench/run.sh                 full run (release build in build-bench/)
#   bench/run.sh --quick         small data, one repetition, no targets
#                                (tests/run.sh runs it to keep it working)
#
# Options:
#   --quick        small data sets; every workload runs once; the table is
#                  printed but no target is judged
#   --bin DIR      use the backupfs and backupctl of DIR, build nothing
#   --dir DIR      work directory (default /var/tmp/backupfs-bench, quick:
#                  a temporary one); data sets made there are reused by
#                  the next full run unless --fresh
#   --fresh        remake the data sets
#   --reps N       repetitions of each workload (default 5; 3 for the
#                  1,000,000-key workloads 4 to 7)
#   --only LIST    workloads to run, e.g. 1,2,8 (default all)
#
# Exit status: 0 when every workload ran (and, in a full run, met its
# target), 3 when a full run missed a target, 1 on an error.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/deps.sh"
. "$ROOT/bench/lib.sh"

QUICK=0 BIN= DIR= FRESH=0 REPS= ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--bin) BIN=$2; shift ;;
	--dir) DIR=$2; shift ;;
	--fresh) FRESH=1 ;;
	--reps) REPS=$2; shift ;;
	--only) ONLY=,$2,; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

bk_install_missing "${BK_BUILD_PACKAGES[@]}" "${BK_BENCH_PACKAGES[@]}"

if [ "$QUICK" = 1 ]; then
	KEYS=2000 FRAGS=64 BACKUPS=50 STATUS_N=20 REPS=${REPS:-1} HEAVY=${REPS:-1}
	LS_REPS=2
else
	KEYS=1000000 FRAGS=68000 BACKUPS=10000 STATUS_N=1000
	HEAVY=${REPS:-3} REPS=${REPS:-5} LS_REPS=15
fi
FRAG_SIZE=16384

if [ -z "$BIN" ]; then
	BIN=$ROOT/build-bench
	# -O2, as every recorded run (docs/PERFORMANCE.md); -O3 builds too
	cmake -S "$ROOT" -B "$BIN" -DCMAKE_BUILD_TYPE=Release \
		"-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
		-DBK_SANITIZE=OFF -DBK_FUZZ=OFF >/dev/null
	cmake --build "$BIN" -j2 --target backupfs backupctl >/dev/null
fi
BACKUPFS=$BIN/backupfs
BACKUPCTL=$BIN/backupctl
[ -x "$BACKUPFS" ] && [ -x "$BACKUPCTL" ] ||
	{ echo "bench/run.sh: no backupfs/backupctl in $BIN" >&2; exit 1; }

if [ -z "$DIR" ]; then
	if [ "$QUICK" = 1 ]; then
		DIR=$(mktemp -d "${TMPDIR:-/tmp}/bk-bench.XXXXXX")
		FRESH=1
		bench_rm_dir_at_exit=$DIR
	else
		DIR=/var/tmp/backupfs-bench
	fi
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
W=$DIR/run		# scratch of this run
rm -rf "$W"
mkdir -p "$W"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$W/restic-cache
printf 'bench passphrase\n' > "$DIR/pass"
chmod 600 "$DIR/pass"

. "$ROOT/bench/data.sh"
. "$ROOT/bench/workloads.sh"

echo "bench: $(date -u '+%F %T UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), two busy loops at once $(cores_free) x one, data in $DIR"
t_start=$SECONDS
want 1 || want 2 || want 3 || want 9 || want 11 && make_arch
want 4 || want 5 || want 6 || want 7 || want 10 || want 11 && make_big
want 8 && make_many

want 1 && w1_warm
want 2 && w2_cold
want 3 || want 11 && w3_upload
want 4 || want 5 || want 11 && w4_backup
want 6 && w6_domain
want 7 || want 11 && w7_restore
want 8 && w8_ls
want 9 && w9_restic
want 10 && w10_status
want 11 && w11_report

echo
echo "bench: $((SECONDS - t_start)) s, load $(cut -d' ' -f1-3 /proc/loadavg), two busy loops at once $(cores_free) x one, at the end"
print_table
