#!/usr/bin/env bash
# tests/run.sh - the one command: installs the Debian packages that are
# missing, builds backupfs in build/ and runs every test through ctest.
# Run as root on Debian 12, from any directory.  Extra arguments go to
# ctest (e.g. tests/run.sh -R integration).
#
# After the suite, `bench/run.sh --quick` checks that the benchmark suite
# still runs (small data, no timing judged).
#
# Full mode (BK_FULL=1, or CI=true unless BK_FULL=0; .ci/run sets it)
# runs, after the normal build and suite, three more parts:
#   asan      the whole suite again, built with ASan + UBSan (gcc) in
#             build-asan/, the FUSE daemon included; any sanitizer report
#             of any process fails it;
#   valgrind  each unit test of build/ under valgrind memcheck, no error
#             and no leak (test_keyfile skipped: scrypt takes minutes);
#   fuzz      the libFuzzer targets, built with clang-14 in build-fuzz/,
#             each for a bounded number of executions (ctest -R fuzz).
# Every part runs even if an earlier one failed; the exit status is
# non-zero if any failed.  docs/TESTING.md says more.
#
# BK_SANITIZE=1 runs the suite in build-asan/ only (no normal build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/deps.sh"

bk_install_missing "${BK_BUILD_PACKAGES[@]}" "${BK_TEST_PACKAGES[@]}"

if [ ! -c /dev/fuse ]; then
	echo "tests/run.sh: /dev/fuse is missing: the integration tests mount" >&2
	echo "  file systems.  Load the module (modprobe fuse) or, in a container," >&2
	echo "  run with --device /dev/fuse --cap-add SYS_ADMIN" >&2
	echo "  (and --security-opt apparmor:unconfined on AppArmor hosts)." >&2
	exit 1
fi

FULL=${BK_FULL:-}
if [ -z "$FULL" ]; then
	[ "${CI:-}" = true ] && FULL=1 || FULL=0
fi
BUILD=${BK_BUILD_DIR:-$ROOT/build}
BUILD_ASAN=${BK_ASAN_BUILD_DIR:-$ROOT/build-asan}
BUILD_FUZZ=${BK_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}

declare -a PARTS=() RESULTS=()
failed=0

# record NAME STATUS LINE: one line of the closing summary.
record() {
	PARTS+=("$1")
	RESULTS+=("$(printf '%-9s %s  %s' "$1" "$([ "$2" -eq 0 ] && echo ok || echo FAILED)" "$3")")
	[ "$2" -eq 0 ] || failed=1
}

# run_ctest NAME BUILD CTEST_ARGS...: ctest in BUILD, recorded with its
# closing line ("N% tests passed, ...").
run_ctest() {
	local name=$1 dir=$2 log rc=0
	shift 2
	log=$(mktemp)
	(cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log" ||
		rc=$?
	record "$name" "$rc" "$(grep -E 'tests passed|No tests were found' \
		"$log" | tail -n 1)"
	rm -f "$log"
	return 0
}

# Sanitizer reports go to files (every process: the daemon, backupctl in
# a pipe, ...) so that none is lost in a test's captured output; each one
# fails the part.
part_asan() {
	local logs=$BUILD_ASAN/sanitizer-logs n t0=$SECONDS

	cmake -S "$ROOT" -B "$BUILD_ASAN" -DCMAKE_BUILD_TYPE=Debug \
		-DBK_SANITIZE=ON -DBK_FUZZ=OFF
	cmake --build "$BUILD_ASAN" -j2
	rm -rf "$logs"
	mkdir -p "$logs"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$logs/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan \
		run_ctest asan "$BUILD_ASAN" "$@"
	RESULTS[-1]+="  ($((SECONDS - t0)) s)"
	n=$(find "$logs" -type f | wc -l)
	if [ "$n" -ne 0 ]; then
		echo "tests/run.sh: $n sanitizer report(s):" >&2
		find "$logs" -type f -exec sh -c 'echo "== $1"; cat "$1"' _ {} \; >&2
		record asan-logs 1 "$n sanitizer report(s) in $logs"
	fi
}

part_valgrind() {
	local t0=$SECONDS src name rc ok=0 bad=0 log
	local list=()

	for src in "$ROOT"/tests/unit/test_*.c; do
		name=$(basename "$src" .c)
		# scrypt (N = 2^17) under valgrind: minutes per key file.
		[ "$name" = test_keyfile ] && continue
		list+=("$name")
	done
	log=$(mktemp)
	for name in "${list[@]}"; do
		rc=0
		(cd "$BUILD" && valgrind -q --error-exitcode=99 \
			--leak-check=full \
			--errors-for-leak-kinds=definite,indirect,possible \
			"./$name") >"$log" 2>&1 || rc=$?
		# mlock2 (OpenSSL's secure heap) is unknown to valgrind 3.19.
		grep -v -e 'unhandled amd64-linux syscall: 325' \
			-e 'your own handler' -e README_MISSING_SYSCALL \
			-e 'Nevertheless we consider' -e 'bug_reports.html' "$log" || true
		if [ "$rc" -eq 0 ]; then
			ok=$((ok + 1))
			echo "valgrind: $name: ok"
		else
			bad=$((bad + 1))
			echo "valgrind: $name: FAILED (status $rc)"
		fi
	done
	rm -f "$log"
	record valgrind "$bad" "$ok of $((ok + bad)) unit tests clean under memcheck (test_keyfile skipped)  ($((SECONDS - t0)) s)"
}

part_fuzz() {
	local t0=$SECONDS

	cmake -S "$ROOT" -B "$BUILD_FUZZ" -DCMAKE_C_COMPILER=clang-14 \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_FUZZ=ON
	cmake --build "$BUILD_FUZZ" -j2 --target fuzzers
	run_ctest fuzz "$BUILD_FUZZ" -R '^fuzz\.'
	RESULTS[-1]+="  ($((SECONDS - t0)) s)"
}

t0=$SECONDS
if [ "${BK_SANITIZE:-0}" = 1 ]; then
	part_asan "$@"
else
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DBK_SANITIZE=OFF -DBK_FUZZ=OFF
	cmake --build "$BUILD" -j2
	run_ctest normal "$BUILD" "$@"
	RESULTS[-1]+="  ($((SECONDS - t0)) s)"
	# the benchmark suite, small and without targets: it keeps working
	t1=$SECONDS rc=0
	"$ROOT/bench/run.sh" --quick --bin "$BUILD" || rc=$?
	record bench "$rc" "bench/run.sh --quick  ($((SECONDS - t1)) s)"
	if [ "$FULL" = 1 ]; then
		part_asan "$@"
		part_valgrind
		part_fuzz
	fi
fi

echo
echo "tests/run.sh: $((SECONDS - t0)) s"
printf '  %s\n' "${RESULTS[@]}"
exit "$failed"
