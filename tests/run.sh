#!/usr/bin/env bash
# tests/run.sh - the one command: installs the Debian packages that are
# missing, builds backupfs in build/ and runs every test through ctest.
# Run as root on Debian 12, from any directory.  Extra arguments go to
# ctest (e.g. tests/run.sh -R integration).  BK_SANITIZE=1 builds with
# ASan + UBSan in build-asan/ instead.
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

if [ "${BK_SANITIZE:-0}" = 1 ]; then
	BUILD=$ROOT/build-asan
	CONFIG=(-DCMAKE_BUILD_TYPE=Debug -DBK_SANITIZE=ON)
else
	BUILD=$ROOT/build
	CONFIG=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_SANITIZE=OFF)
fi

cmake -S "$ROOT" -B "$BUILD" "${CONFIG[@]}"
cmake --build "$BUILD" -j2

cd "$BUILD"
status=0
ctest --output-on-failure "$@" || status=$?
exit "$status"
