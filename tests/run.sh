#!/usr/bin/env bash
# tests/run.sh - the one command: installs the Debian packages that are
# missing, builds backupfs in build/ and runs every test through ctest.
# Run as root on Debian 12, from any directory.  Extra arguments go to
# ctest (e.g. tests/run.sh -R integration).  BK_SANITIZE=1 builds with
# ASan + UBSan in build-asan/ instead.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGES=(build-essential cmake pkg-config libfuse3-dev fuse3 libssl-dev
	libsqlite3-dev sqlite3 libjson-c-dev libp11-kit-dev libssh-dev rsync jq
	tar rclone softhsm2 valgrind groff-base man-db)

installed() {
	local s
	s=$(dpkg -s "$1" 2>/dev/null) || return 1
	[[ $s == *"Status: install ok installed"* ]]
}

install_missing() {
	local p missing=()
	for p in "$@"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "tests/run.sh: missing packages: ${missing[*]}" >&2
		echo "tests/run.sh: run as root, or install them first" >&2
		exit 1
	fi
	echo "tests/run.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
}

install_missing "${PACKAGES[@]}"

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
